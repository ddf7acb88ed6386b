"""What the middleware puts on each request for the handlers."""

from __future__ import annotations

from typing import Final

from aiohttp import web

CALLER: Final = web.RequestKey("sendtrail_caller", str)  # the access key id that signed it
REQUEST_ID: Final = web.RequestKey("sendtrail_request_id", str)
