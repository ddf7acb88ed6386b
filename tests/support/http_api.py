"""The SES HTTP API served in-process on loopback, for real boto3 clients.

``running_api`` starts the real HTTP listener (``HttpServer``, so SigV4 and the health and
metrics paths are wired as in ``sendtrail serve``) on an ephemeral 127.0.0.1 port, on its own
event loop in a background thread, over an ``App`` on a temporary data directory. Nothing else
of the service runs: no SMTP listeners, no delivery workers, so nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import msgspec
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from sendtrail.adapters.app import App
from sendtrail.adapters.clock import Clock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.http_server import HttpServer
from sendtrail.adapters.metrics import Metrics
from sendtrail.core import events as ev

if TYPE_CHECKING:
    from sendtrail.adapters.service import Service

ACCESS_KEY_ID = "AKIDSENDTRAILTEST"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
REGION = "us-east-1"
TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:ses-events"
BASE_CONFIG: dict[str, Any] = {
    "region": REGION,
    "http": {"listen": "127.0.0.1:0"},
    "credentials": [{"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}],
    "identities": {"verified": ["example.com", "sender@example.org"]},
    "account": {"max_send_rate": 1000.0, "max_24_hour_send": 50000},
    "topics": {TOPIC_ARN: {"url": "http://127.0.0.1:9/hook"}},
}


class _ServiceShell:
    """What ``HttpServer`` reads of the service, without the service's other components."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings = settings
        self.app = app
        self.engine = app.engine
        self.metrics = Metrics(app.engine)
        self.ready = asyncio.Event()


@dataclass
class RunningApi:
    url: str
    app: App
    settings: Settings

    def client(
        self,
        service: str,
        *,
        access_key_id: str = ACCESS_KEY_ID,
        secret_access_key: str = SECRET_ACCESS_KEY,
        region: str = REGION,
        validate: bool = True,
    ) -> Any:
        """A boto3 client on this server; retries off, so a refusal is seen as it is."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                retries={"total_max_attempts": 1},
                parameter_validation=validate,
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def signed(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        secret_access_key: str = SECRET_ACCESS_KEY,
    ) -> AWSRequest:
        """A request signed with botocore, for what a boto3 client would not send."""
        request = AWSRequest(method=method, url=f"{self.url}{path}", data=body, headers=headers)
        SigV4Auth(Credentials(ACCESS_KEY_ID, secret_access_key), "ses", REGION).add_auth(request)
        return request


@contextmanager
def running_api(
    data_dir: Path, config: dict[str, Any] | None = None, *, clock: Clock | None = None
) -> Iterator[RunningApi]:
    settings = msgspec.convert(_merged(BASE_CONFIG, config or {}), Settings)
    app = App(settings, data_dir, clock=clock, durable=False)
    server = HttpServer(cast("Service", _ServiceShell(settings, app)))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="http-api-test", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        loop.call_soon_threadsafe(server.service.ready.set)
        yield RunningApi(url=f"http://127.0.0.1:{server.port}", app=app, settings=settings)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        app.close()


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def raw_call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> RawResponse:
    """One plain HTTP request (no boto3), answered whatever the status."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return RawResponse(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return RawResponse(error.code, dict(error.headers.items()), error.read())


def send_signed(request: AWSRequest) -> RawResponse:
    return raw_call(request.url, request.method, request.body, dict(request.headers.items()))


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of an error boto3 raised."""
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def requested(api: RunningApi, message_id: str) -> ev.SendRequested:
    """What the engine recorded first for a message the API accepted."""
    first = api.app.engine.store.read_stream(message_id)[0].event
    assert isinstance(first, ev.SendRequested)
    return first
