"""``POST /`` (and ``GET /``): the v1 Query API, one handler per ``Action``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from sendtrail.core.acceptance import errors

from . import v1_account, v1_configuration_sets, v1_identities, v1_sending, v1_templates
from .context import ApiContext
from .keys import CALLER, REQUEST_ID
from .v1_call import QueryParams, V1Call, V1Handler
from .wire import xml_response
from .xml_out import render_response

ACTIONS: dict[str, V1Handler] = {
    **v1_sending.ACTIONS,
    **v1_identities.ACTIONS,
    **v1_templates.ACTIONS,
    **v1_configuration_sets.ACTIONS,
    **v1_account.ACTIONS,
}


def add_routes(router: web.UrlDispatcher, context: ApiContext) -> None:
    async def endpoint(request: web.Request) -> web.Response:
        params = await _params(request)
        action = params.action
        if not action:
            raise errors.bad_request(
                "Could not find operation: the request has no Action parameter.",
                v1_code="MissingAction",
            )
        handler = ACTIONS.get(action)
        if handler is None:
            raise errors.bad_request(
                f"The action {action} is not valid for this web service.",
                v1_code="InvalidAction",
            )
        call = V1Call(
            context=context, params=params, caller=request[CALLER], source_ip=request.remote
        )
        result = await handler(call)
        return xml_response(
            render_response(action, result, request[REQUEST_ID]), request[REQUEST_ID]
        )

    router.add_route("POST", "/", endpoint)
    router.add_route("GET", "/", endpoint)


async def _params(request: web.Request) -> QueryParams:
    """Form fields of the body, after any in the query string (the Query protocol allows
    both; botocore sends a form body)."""
    pairs = list(parse_qsl(request.query_string, keep_blank_values=True))
    if request.method == "POST":
        body = await request.read()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.bad_request("The request body is not UTF-8 form data.") from None
        pairs += parse_qsl(text, keep_blank_values=True)
    return QueryParams(pairs)
