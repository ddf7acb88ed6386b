"""Every SES API request passes here: SigV4 first, then the handler, and any failure is
answered in the wire format of the API addressed, never as a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web
from aiohttp.typedefs import Middleware

from sendtrail.core.acceptance.errors import SesError

from .keys import CALLER, REQUEST_ID
from .sigv4 import AuthFailure, SigV4Verifier
from .wire import (
    Api,
    api_of,
    auth_error_response,
    error_response,
    new_request_id,
    ses_error_response,
)

log = logging.getLogger("sendtrail.http.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LARGE_BODY = 1024 * 1024


def ses_api_middleware(verifier: SigV4Verifier, public_paths: frozenset[str]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public_paths:
            return await handler(request)
        api = api_of(request.path)
        request_id = new_request_id()
        request[REQUEST_ID] = request_id
        try:
            body = await request.read()
            verify = partial(verifier.verify, request.method, request.raw_path, request.headers)
            # Hashing a large raw message (up to 40 MB) would stall every other request on
            # the loop; hashlib releases the GIL, so a thread really runs it aside.
            request[CALLER] = (
                await asyncio.to_thread(verify, body) if len(body) > LARGE_BODY else verify(body)
            )
            return await handler(request)
        except AuthFailure as failure:
            log.info(
                "request refused",
                extra={"code": failure.code, "path": request.path, "remote": request.remote},
            )
            return auth_error_response(api, failure, request_id)
        except SesError as error:
            return ses_error_response(api, error, request_id)
        except web.HTTPRequestEntityTooLarge:
            return error_response(
                api,
                code="RequestEntityTooLarge",
                message="Request body is larger than the server accepts.",
                status=413,
                request_id=request_id,
            )
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return _unknown_operation(api, request, request_id)
        except web.HTTPException as http_error:
            return error_response(
                api, code=http_error.reason.replace(" ", ""), message=http_error.reason,
                status=http_error.status, request_id=request_id,
            )  # fmt: skip
        except Exception:
            log.exception("request failed", extra={"path": request.path, "request_id": request_id})
            return error_response(
                api,
                code="InternalFailure" if api is Api.V1 else "InternalServiceErrorException",
                message="The request processing has failed because of an unknown error.",
                status=500,
                request_id=request_id,
                sender=False,
            )

    return middleware


def _unknown_operation(api: Api, request: web.Request, request_id: str) -> web.Response:
    return error_response(
        api,
        code="UnknownOperationException",
        message=f"No operation matches {request.method} {request.path}.",
        status=404,
        request_id=request_id,
    )
