"""Delivery throughput: accepted messages to ``delivered``, over SMTP into a loopback sink.

Messages of about 3 KB, one recipient each, spread over 20 recipient domains that
``[delivery.routes]`` sends to one aiosmtpd sink (in its own process, so it does not share the
benchmark's interpreter). The log is durable (fsync at every group commit), as in production,
and the delivery settings are the defaults.

    python -m bench.delivery_bench [MESSAGES] [--asyncio]
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from sendtrail.adapters.config import DeliverySettings, FeedbackSettings, Settings
from sendtrail.adapters.delivery import DeliveryScheduler
from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev

DOMAINS = 20  # recipient domains, all routed to the sink
SINK_HOST = "127.0.0.2"
ACCEPT_BATCH = 500
LIVE_CALLERS = 50


def message(number: int) -> bytes:
    """About 3 KB of plain MIME with lines of ordinary length, different for every message."""
    body = b"".join(
        b"Line %03d of message %06d: the quick brown fox jumps over the lazy dog.\r\n"
        % (line, number)
        for line in range(36)
    )
    headers = (
        b"From: Newsletter <news@example.com>\r\nTo: reader%d@example.net\r\n"
        b"Subject: Issue %d\r\nMessage-ID: <%d@example.com>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" % (number, number, number)
    )
    return headers + body


def measure(
    messages: int = 20_000,
    *,
    use_uvloop: bool | None = None,
    durable: bool = True,
    live_rate: float = 1000.0,
) -> dict[str, Any]:
    """Deliver ``messages`` twice and return the figures (``deliveries_per_second`` first).

    1. Backlog: ``messages`` accepted first, then the clock runs from the scheduler's start
       to the last ``delivered``: the delivery path's throughput, from accepted to delivered.
    2. Live: the same number accepted at ``live_rate`` per second (50 concurrent callers)
       while the scheduler delivers, in one process as ``sendtrail serve`` runs them; SES's
       ``processingTimeMillis`` (accepted to delivered) gives the latency at that load.

    ``use_uvloop``: None uses it when installed. ``durable=False`` (no fsync) is only for
    telling the disk's share of the time from the CPU's.
    """
    loop_factory = _loop_factory(use_uvloop)
    sink_port, stop_sink = _start_sink()
    try:
        with tempfile.TemporaryDirectory(prefix="sendtrail-delivery-bench-") as data:
            engine = Engine.open(Path(data) / "backlog", durable=durable)
            try:
                accept_seconds = _accept(engine, messages)
                backlog = _run_loop(loop_factory, _deliver(engine, messages, sink_port))
                _check_all_delivered(engine, messages)
            finally:
                engine.close()
            engine = Engine.open(Path(data) / "live", durable=durable)
            try:
                live = _run_loop(
                    loop_factory, _deliver(engine, messages, sink_port, live_rate=live_rate)
                )
                _check_all_delivered(engine, messages)
                latencies = sorted(_processing_ms(engine))
            finally:
                engine.close()
    finally:
        received, sink_cpu = stop_sink()
    figures = {
        "deliveries_per_second": round(messages / backlog["seconds"]),
        "messages": messages,
        "seconds": round(backlog["seconds"], 2),
        "accepted_per_second": round(messages / accept_seconds),
        "live_offered_per_second": live_rate,
        "live_deliveries_per_second": round(messages / live["seconds"]),
        "live_latency_ms_p50": latencies[len(latencies) // 2],
        "live_latency_ms_p99": latencies[len(latencies) * 99 // 100],
        "loop": "uvloop" if loop_factory is not None else "asyncio",
        "durable": durable,
        "sink_received": received,
        "sink_cpu_seconds": round(sink_cpu, 2),  # over both runs
        # CPU time of this process (event loop and the log's writer thread) per wall second:
        # near 1.0 means one core is saturated, since the GIL serialises the Python work.
        "cpu_per_second": round(backlog["cpu_seconds"] / backlog["seconds"], 2),
        "cpu_us_per_delivery": round(backlog["cpu_seconds"] / messages * 1e6),
    }
    print(
        f"delivery: {figures['deliveries_per_second']} deliveries/s "
        f"({messages} accepted messages of ~3 KB delivered in {figures['seconds']} s; "
        f"{figures['loop']}, {'durable' if durable else 'NOT durable'} log; "
        f"{figures['cpu_us_per_delivery']} us CPU each, {figures['cpu_per_second']} s/s)\n"
        f"live:     {live_rate:g}/s offered, {figures['live_deliveries_per_second']}/s delivered "
        f"(accepted to delivered: p50 {figures['live_latency_ms_p50']} ms, "
        f"p99 {figures['live_latency_ms_p99']} ms); "
        f"acceptance alone: {figures['accepted_per_second']}/s"
    )
    return figures


def run() -> str:
    """``make bench``: the markdown paragraph for docs/benchmarks.md."""
    figures = measure()
    return (
        f"{figures['messages']:,} accepted messages of about 3 KB delivered into a loopback "
        f"sink (aiosmtpd, another process), 20 recipient domains, durable log, "
        f"{figures['loop']}: **{figures['deliveries_per_second']:,} deliveries/s** "
        f"({figures['seconds']} s; {figures['cpu_us_per_delivery']} µs of CPU per delivery, "
        f"{figures['cpu_per_second']} s of CPU per second). Live, with "
        f"{figures['live_offered_per_second']:g} sends/s offered while delivering: "
        f"{figures['live_deliveries_per_second']:,} deliveries/s, accepted to delivered "
        f"p50 {figures['live_latency_ms_p50']} ms, p99 {figures['live_latency_ms_p99']} ms."
    )


def _accept(engine: Engine, messages: int) -> float:
    started = time.perf_counter()
    for first in range(0, messages, ACCEPT_BATCH):
        pending = [
            engine.submit(*_request(engine, number))
            for number in range(first, min(first + ACCEPT_BATCH, messages))
        ]
        for future in pending:
            future.result()
    return time.perf_counter() - started


def _request(engine: Engine, number: int) -> tuple[cmd.RequestSend, tuple[bytes]]:
    raw = message(number)
    command = cmd.RequestSend(
        message_id=engine.new_message_id(),
        source="news@example.com",
        destinations=(f"reader{number}@domain{number % DOMAINS}.test",),
        content_sha256=hashlib.sha256(raw).hexdigest(),
    )
    return command, (raw,)


async def _deliver(
    engine: Engine, messages: int, sink_port: int, *, live_rate: float | None = None
) -> dict[str, float]:
    settings = Settings(
        feedback=FeedbackSettings(domain="feedback.bench.test"),
        delivery=DeliverySettings(
            ehlo_name="mta.bench.test",
            routes={f"domain{n}.test": f"{SINK_HOST}:{sink_port}" for n in range(DOMAINS)},
        ),
    )
    scheduler = DeliveryScheduler.from_settings(engine, settings)
    started, cpu = time.perf_counter(), time.process_time()
    await scheduler.start()

    async def caller(first: int, rate: float) -> None:
        for number in range(first, messages, LIVE_CALLERS):
            await asyncio.sleep(started + number / rate - time.perf_counter())  # the pace
            await engine.execute_async(*_request(engine, number))
            scheduler.notify()

    if live_rate is not None:
        await asyncio.gather(*(caller(first, live_rate) for first in range(LIVE_CALLERS)))
    while scheduler.stats.delivered < messages:
        await asyncio.sleep(0.01)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    await scheduler.stop()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds}


def _run_loop(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
    coroutine: Coroutine[Any, Any, dict[str, float]],
) -> dict[str, float]:
    if loop_factory is None:
        return asyncio.run(coroutine)
    loop = loop_factory()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _check_all_delivered(engine: Engine, messages: int) -> None:
    counts = engine.read_model.status_counts()
    if counts != {"delivered": messages}:
        raise RuntimeError(f"not everything was delivered: {counts}")


def _processing_ms(engine: Engine) -> list[int]:
    return [
        stored.event.processing_ms or 0
        for stored in engine.store.read_all()
        if isinstance(stored.event, ev.RecipientDelivered)
    ]


def _loop_factory(
    use_uvloop: bool | None,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if use_uvloop is False:
        return None
    try:
        import uvloop
    except ImportError:
        if use_uvloop:
            raise
        return None
    return uvloop.new_event_loop


# --- the sink, in its own process --------------------------------------------------------

# An aiosmtpd server that accepts everything (and offers PIPELINING), counting recipients. It
# runs as ``python -c`` so that it needs nothing importable but aiosmtpd; it stops when its
# standard input closes and prints how many recipients it received.
SINK = """
import asyncio, sys, time
from aiosmtpd.smtp import SMTP
try:
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
except ImportError:
    pass
received = 0
class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]
    async def handle_DATA(self, server, session, envelope):
        global received
        received += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"
async def serve(host, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="sink.bench.test", decode_data=False, loop=loop),
        host, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    print(received, time.process_time(), flush=True)
asyncio.run(serve(sys.argv[1], 0))
"""


def _start_sink() -> tuple[int, Callable[[], tuple[int, float]]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SINK, SINK_HOST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    port = int(process.stdout.readline())

    def stop() -> tuple[int, float]:
        output, _ = process.communicate(timeout=30)  # closes stdin: the sink stops
        received, cpu_seconds = output.split()
        return int(received), float(cpu_seconds)

    return port, stop


if __name__ == "__main__":
    count = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 20_000)
    measure(
        count,
        use_uvloop=False if "--asyncio" in sys.argv else None,
        durable="--no-fsync" not in sys.argv,
    )
