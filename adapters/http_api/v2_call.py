"""The v2 (REST-JSON) plumbing shared by every area: reading a call, answering it.

A handler gets a ``V2Call`` (path, query and body members as botocore's service model places
them) and returns the response shape as a dict; ``None`` members are left out and datetimes
become epoch seconds, as botocore's rest-json parser reads timestamps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from aiohttp import web

from sendtrail.adapters.app import App
from sendtrail.core.acceptance import errors

from .context import ApiContext
from .keys import CALLER, REQUEST_ID
from .wire import json_response

S = TypeVar("S")


class Shape(msgspec.Struct, rename="pascal", frozen=True, kw_only=True):
    """A request body shape: members in PascalCase on the wire; unknown members ignored, as
    newer clients may send members this server does not know."""


class V2Call:
    def __init__(self, request: web.Request, context: ApiContext) -> None:
        self.request = request
        self.context = context

    @property
    def app(self) -> App:
        return self.context.app

    @property
    def caller(self) -> str:
        caller: str = self.request[CALLER]
        return caller

    @property
    def source_ip(self) -> str | None:
        return self.request.remote

    def path(self, name: str) -> str:
        return self.request.match_info[name]

    def query(self, name: str) -> str | None:
        return self.request.query.get(name)

    def query_all(self, name: str) -> list[str]:
        return self.request.query.getall(name, [])

    def query_int(self, name: str) -> int | None:
        value = self.query(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise errors.bad_request(f"{name} must be an integer, not '{value}'.") from None

    def query_timestamp(self, name: str) -> datetime | None:
        """botocore sends query timestamps as ISO 8601; epoch seconds are taken too."""
        value = self.query(name)
        if value is None:
            return None
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f"{name} must be a timestamp, not '{value}'.") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    async def body(self, shape: type[S]) -> S:
        data = await self.request.read()
        try:
            return msgspec.json.decode(data or b"{}", type=shape)
        except msgspec.ValidationError as error:
            raise errors.bad_request(f"Invalid request: {error}") from None
        except msgspec.DecodeError as error:
            raise errors.bad_request(f"The request body is not valid JSON: {error}") from None


V2Handler = Callable[[V2Call], Awaitable[Mapping[str, object]]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: V2Handler


def add_routes(router: web.UrlDispatcher, context: ApiContext, routes: Sequence[Route]) -> None:
    for route in routes:
        router.add_route(route.method, route.path, _endpoint(route.handler, context))


def _endpoint(
    handler: V2Handler, context: ApiContext
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        result = await handler(V2Call(request, context))
        return json_response(jsonable(result), request[REQUEST_ID])

    return endpoint


def jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def tags_of(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in pairs]


class Tag(Shape, frozen=True):
    key: str
    value: str
