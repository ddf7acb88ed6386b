"""Accepting sends through the HTTP API: boto3-signed v2 SendEmail requests over loopback.

The server is the real HTTP listener (``HttpServer``: SigV4 verification, the v2 handler,
``Sender.send`` with a durable append before the answer) on its own event loop in this
process. Clients run in separate processes so that they do not share the server's core:

- health: the same aiohttp client on ``GET /healthz``, for what HTTP alone costs here.
- pre-signed: one process has boto3 build and sign every request (a ``before-send`` hook
  captures what boto3 would send), then fires them with aiohttp at 64 concurrent requests.
  Every request carries its own SigV4 signature, which the server verifies.
- boto3: one process with 8 threads, each with its own boto3 client, calling ``send_email``
  as an application would.

Two small in-process measurements say where a request's time goes: SigV4 verification alone,
and the acceptance (``Sender.send``) alone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import msgspec
from multidict import CIMultiDict

from sendtrail.adapters.app import App
from sendtrail.adapters.config import Settings
from sendtrail.adapters.http_api.sigv4 import SigV4Verifier
from sendtrail.adapters.http_server import HttpServer
from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.requests import Destination, SendRequest, SimpleContent

if TYPE_CHECKING:
    from sendtrail.adapters.service import Service

ACCESS_KEY_ID = "AKIDBENCH"
SECRET_ACCESS_KEY = "bench-secret-key"
REGION = "us-east-1"
PRESIGNED_REQUESTS = 8_000
PRESIGNED_CONCURRENCY = 64
BOTO3_THREADS = 8
BOTO3_SENDS_PER_THREAD = 150
TEXT = "Hello,\n\nthis is the news.\n" * 20

Captured = tuple[str, str, dict[str, str], bytes]


def _settings() -> Settings:
    return msgspec.convert(
        {
            "region": REGION,
            "http": {"listen": "127.0.0.1:0"},
            "credentials": [
                {"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}
            ],
            "identities": {"verified": ["example.com"]},
            "account": {"max_send_rate": 1e9, "max_24_hour_send": -1},
        },
        Settings,
    )


class _ServiceShell:
    """What ``HttpServer`` reads of the service; nothing else of the service runs."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings = settings
        self.app = app
        self.engine = app.engine
        self.ready = asyncio.Event()


@contextmanager
def _server(directory: Path) -> Iterator[str]:
    settings = _settings()
    app = App(settings, directory)  # durable: every acceptance is fsynced before its answer
    server = HttpServer(cast("Service", _ServiceShell(settings, app)))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="http-bench", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        app.close()


def _client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sesv2",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )


def _send(client: Any, number: int) -> str:
    message_id: str = client.send_email(
        FromEmailAddress="Newsletter <news@example.com>",
        Destination={"ToAddresses": [f"reader{number}@example.net"]},
        Content={
            "Simple": {"Subject": {"Data": f"Issue {number}"}, "Body": {"Text": {"Data": TEXT}}}
        },
    )["MessageId"]
    return message_id


def _presign(url: str, count: int) -> list[Captured]:
    """What boto3 would send for ``count`` SendEmail calls, each signed by botocore."""
    from botocore.awsrequest import AWSResponse

    class _Body:
        def stream(self, **_: object) -> Iterator[bytes]:
            yield b'{"MessageId": "presigned"}'

    captured: list[Captured] = []

    def capture(request: Any, **_: object) -> AWSResponse:
        headers = {
            name: value.decode() if isinstance(value, bytes) else str(value)
            for name, value in request.headers.items()
            if name.lower() != "content-length"  # the HTTP client sets it
        }
        captured.append((request.method, request.url, headers, bytes(request.body)))
        return AWSResponse(request.url, 200, {}, _Body())

    client = _client(url)
    client.meta.events.register("before-send.sesv2.SendEmail", capture)
    for number in range(count):
        _send(client, number)
    return captured


def _presigned_load(url: str, count: int, concurrency: int) -> dict[str, Any]:
    """Runs in its own process: pre-sign, then fire the requests with aiohttp."""
    return asyncio.run(_fire(_presign(url, count), concurrency))


def _health_load(url: str, count: int, concurrency: int) -> dict[str, Any]:
    """Runs in its own process: the same client on ``GET /healthz`` (no signature, no
    engine), what HTTP alone costs on this machine."""
    return asyncio.run(_fire([("GET", f"{url}/healthz", {}, b"")] * count, concurrency))


async def _fire(requests: list[Captured], concurrency: int) -> dict[str, Any]:
    import aiohttp

    pending = iter(requests)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for method, target, headers, body in pending:
                started = time.perf_counter()
                async with session.request(method, target, headers=headers, data=body) as reply:
                    await reply.read()
                    statuses[reply.status] += 1
                latencies.append(time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "elapsed": elapsed,
        "client_cpu": cpu,
        "latencies": latencies,
        "statuses": dict(statuses),
    }


def _boto3_load(url: str, threads: int, per_thread: int) -> dict[str, Any]:
    """Runs in its own process: ``threads`` boto3 clients calling ``send_email``."""
    clients = [_client(url) for _ in range(threads)]
    for index, client in enumerate(clients):  # connect and warm each client before timing
        _send(client, -1 - index)

    def drive(index: int) -> list[float]:
        latencies = []
        for number in range(per_thread):
            started = time.perf_counter()
            _send(clients[index], index * per_thread + number)
            latencies.append(time.perf_counter() - started)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        latencies = [value for chunk in pool.map(drive, range(threads)) for value in chunk]
    return {"elapsed": time.perf_counter() - started, "latencies": latencies, "statuses": {}}


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    """Run a client in its own process; the server's CPU time (this process runs nothing
    else meanwhile, the client's set-up such as pre-signing included) is added."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        cpu = time.process_time()
        result: dict[str, Any] = pool.apply(function, args)
        result["server_cpu"] = time.process_time() - cpu
    return result


def _verification_cost(url: str) -> float:
    """Microseconds to verify one boto3-signed SendEmail request, alone."""
    verifier = SigV4Verifier(_settings().credentials, REGION)
    method, target, headers, body = _presign(url, 1)[0]
    parts = urlsplit(target)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    incoming = CIMultiDict(headers)
    incoming["Host"] = parts.netloc  # what the HTTP client adds, signed as 'host'
    rounds = 3_000
    started = time.perf_counter()
    for _ in range(rounds):
        verifier.verify(method, path_and_query, incoming, body)
    return (time.perf_counter() - started) / rounds * 1e6


def _acceptance_cost(directory: Path, rounds: int = 3_000) -> float:
    """Microseconds per ``Sender.send`` alone (50 concurrent callers), no HTTP."""
    with App(_settings(), directory) as app:

        async def drive() -> float:
            async def caller(index: int) -> None:
                for number in range(rounds // 50):
                    await app.sender.send(
                        SendRequest(
                            surface=Surface.V2_API,
                            operation="SendEmail",
                            source="Newsletter <news@example.com>",
                            destination=Destination(to=(f"r{index}.{number}@example.net",)),
                            content=SimpleContent(subject=f"Issue {number}", text=TEXT),
                        )
                    )

            started = time.perf_counter()
            await asyncio.gather(*(caller(index) for index in range(50)))
            return (time.perf_counter() - started) / rounds * 1e6

        return asyncio.run(drive())


def _summary(result: dict[str, Any], requests: int) -> tuple[float, float, float]:
    latencies = sorted(result["latencies"])
    rate = requests / result["elapsed"]
    p50 = statistics.median(latencies) * 1e3
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1e3
    return rate, p50, p99


def measure() -> dict[str, Any]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        with _server(Path(directory) / "server") as url:
            health = _in_child(_health_load, url, PRESIGNED_REQUESTS, PRESIGNED_CONCURRENCY)
            presigned = _in_child(_presigned_load, url, PRESIGNED_REQUESTS, PRESIGNED_CONCURRENCY)
            boto3_run = _in_child(_boto3_load, url, BOTO3_THREADS, BOTO3_SENDS_PER_THREAD)
            verify_us = _verification_cost(url)
        accept_us = _acceptance_cost(Path(directory) / "engine")
    return {
        "load": load,
        "health": health,
        "presigned": presigned,
        "boto3": boto3_run,
        "verify_us": verify_us,
        "accept_us": accept_us,
    }


def run() -> str:
    figures = measure()
    presigned = figures["presigned"]
    refused = {status: n for status, n in presigned["statuses"].items() if status != 200}
    if refused:
        raise RuntimeError(f"the server refused requests during the benchmark: {refused}")
    rate, p50, p99 = _summary(presigned, PRESIGNED_REQUESTS)
    boto3_total = BOTO3_THREADS * BOTO3_SENDS_PER_THREAD
    boto3_rate, boto3_p50, boto3_p99 = _summary(figures["boto3"], boto3_total)
    health_rate, health_p50, health_p99 = _summary(figures["health"], PRESIGNED_REQUESTS)
    server_us = presigned["server_cpu"] / PRESIGNED_REQUESTS * 1e6
    client_us = presigned["client_cpu"] / PRESIGNED_REQUESTS * 1e6
    health_server_us = figures["health"]["server_cpu"] / PRESIGNED_REQUESTS * 1e6
    return (
        "| client | requests | concurrency | accepted messages/s | p50 ms | p99 ms |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        f"| boto3-signed, pre-signed, aiohttp (1 process) | {PRESIGNED_REQUESTS:,} "
        f"| {PRESIGNED_CONCURRENCY} | **{rate:,.0f}** | {p50:.1f} | {p99:.1f} |\n"
        f"| boto3 `send_email` (1 process, {BOTO3_THREADS} threads) | {boto3_total:,} "
        f"| {BOTO3_THREADS} | {boto3_rate:,.0f} | {boto3_p50:.1f} | {boto3_p99:.1f} |\n"
        f"| reference: unsigned `GET /healthz`, aiohttp (1 process) | {PRESIGNED_REQUESTS:,} "
        f"| {PRESIGNED_CONCURRENCY} | {health_rate:,.0f} requests/s | {health_p50:.1f} "
        f"| {health_p99:.1f} |\n\n"
        f"Every request is SigV4-signed by botocore and verified by the server; every "
        f"acceptance is durable before it is answered. CPU per accepted message with the "
        f"pre-signed client: server {server_us:.0f} µs (its event loop and the log's writer "
        f"thread), client {client_us:.0f} µs. Of the server's share, SigV4 verification "
        f"alone costs {figures['verify_us']:.0f} µs and the acceptance alone (`Sender.send`, "
        f"50 concurrent callers, no HTTP) {figures['accept_us']:.0f} µs; the rest is "
        f"aiohttp's request handling (a bare `GET /healthz` costs the server "
        f"{health_server_us:.0f} µs), the JSON decode and the handler. Server and clients "
        f"share the machine's "
        f"{os.cpu_count()} cores (1-minute load average {figures['load']:.1f} when the run "
        f"started).\n"
    )


if __name__ == "__main__":
    print(run())
