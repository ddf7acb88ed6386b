"""The two wire formats of SES errors, and what every response carries.

v1 (Query): HTTP 400 (403 for authentication), an XML ``ErrorResponse`` whose ``Message`` is
XML-escaped. v2 (REST-JSON): the error shape's status, the code in ``x-amzn-ErrorType`` and
``{"message": ...}`` as the body, which is where botocore looks for both.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec
from aiohttp import web

from sendtrail.adapters.clock import new_uuid
from sendtrail.core.acceptance.errors import SesError

from .sigv4 import AuthFailure
from .xml_out import NAMESPACE, escape

REQUEST_ID_HEADER: Final = "x-amzn-RequestId"
_json = msgspec.json.Encoder()


class Api(enum.Enum):
    V1 = "v1"  # Query protocol: POST / with Action=...
    V2 = "v2"  # REST-JSON under /v2/email/...


def api_of(path: str) -> Api:
    return Api.V1 if path == "/" else Api.V2


def new_request_id() -> str:
    return str(new_uuid())


def json_response(body: object, request_id: str, status: int = 200) -> web.Response:
    return web.Response(
        body=_json.encode(body),
        status=status,
        content_type="application/json",
        headers={REQUEST_ID_HEADER: request_id},
    )


def xml_response(body: str, request_id: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/xml",
        headers={REQUEST_ID_HEADER: request_id},
    )


def error_response(
    api: Api, *, code: str, message: str, status: int, request_id: str, sender: bool = True
) -> web.Response:
    if api is Api.V1:
        fault = "Sender" if sender else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{NAMESPACE}">\n'
            f"  <Error>\n    <Type>{fault}</Type>\n    <Code>{escape(code)}</Code>\n"
            f"    <Message>{escape(message)}</Message>\n  </Error>\n"
            f"  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        )
        return xml_response(body, request_id, status)
    response = json_response({"message": message}, request_id, status)
    response.headers["x-amzn-ErrorType"] = code
    return response


def ses_error_response(api: Api, error: SesError, request_id: str) -> web.Response:
    if api is Api.V1:
        return error_response(
            api,
            code=error.code,
            message=error.message,
            status=error.detail.v1_status,
            request_id=request_id,
        )
    return error_response(
        api, code=error.v2_type, message=error.message, status=error.v2_status,
        request_id=request_id,
    )  # fmt: skip


def auth_error_response(api: Api, failure: AuthFailure, request_id: str) -> web.Response:
    return error_response(
        api,
        code=failure.code,
        message=failure.message,
        status=auth_status(api, failure.code),
        request_id=request_id,
    )


def auth_status(api: Api, code: str) -> int:
    """AWS's Query services answer an expired request with 400, like any malformed one; its
    REST-JSON front ends refuse every signature problem with 403."""
    if code == "XAmzContentSHA256Mismatch" or (code == "RequestExpired" and api is Api.V1):
        return 400
    return 403
