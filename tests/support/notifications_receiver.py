"""A webhook receiver on loopback (aiohttp), on its own thread and event loop, that records
every request and answers as scripted per path: fail the first N, always fail, or be slow."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to the first N requests
    always_fail: bool = False
    delay: float = 0.0  # seconds before answering


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int
    at: float = field(default_factory=time.monotonic)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class WebhookReceiver:
    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.received: list[Received] = []  # when answered
        self.arrivals: list[str] = []  # webhook ids, as requests arrive (before any delay)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        """Requests to ``path`` that were answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.received if r.path == path and r.status < 300]

    def all_at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.received)} requests")
            time.sleep(0.02)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        behaviour = self.behaviours.get(request.path, Behaviour())
        with self._lock:
            count = self._counts[request.path] = self._counts.get(request.path, 0) + 1
            self.arrivals.append(request.headers.get("webhook-id", ""))
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        failing = behaviour.always_fail or count <= behaviour.fail_first
        status = 500 if failing else 200
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self.received.append(Received(request.path, headers, body, status))
        return web.Response(status=status, text="fail" if failing else "ok")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()
