"""Accepting simple sends through the engine API with 50 concurrent callers.

Every acceptance is durable before it is answered (the log's group commit with fsync); what
follows acceptance (assembly, scanning, delivery) is not part of this figure, as SES answers
before it does them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import msgspec
import uvloop

from sendtrail.adapters.config import Settings
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.resources import ResourceRegistry
from sendtrail.adapters.sending import Sender
from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.requests import Destination, SendRequest, SimpleContent

CALLERS = 50
SENDS_PER_CALLER = 200


def _request(caller: int, number: int) -> SendRequest:
    return SendRequest(
        surface=Surface.V2_API,
        operation="SendEmail",
        source="Newsletter <news@example.com>",
        destination=Destination(to=(f"reader{caller}.{number}@example.net",)),
        content=SimpleContent(
            subject=f"Issue {number}",
            text="Hello,\n\nthis is the news.\n" * 20,
            html="<p>Hello,</p><p>this is the news.</p>" * 20,
        ),
    )


async def _drive(sender: Sender) -> float:
    async def caller(index: int) -> None:
        for number in range(SENDS_PER_CALLER):
            await sender.send(_request(index, number))

    started = time.perf_counter()
    await asyncio.gather(*(caller(index) for index in range(CALLERS)))
    return time.perf_counter() - started


def measure() -> dict[str, float]:
    settings = msgspec.convert(
        {
            "identities": {"verified": ["example.com"]},
            "account": {"max_send_rate": 1e9, "max_24_hour_send": -1},
        },
        Settings,
    )
    with tempfile.TemporaryDirectory() as directory:
        engine = Engine.open(Path(directory))
        try:
            sender = Sender(engine, ResourceRegistry(engine.store), settings)
            # The event loop `sendtrail serve` runs on.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                seconds = runner.run(_drive(sender))
        finally:
            engine.close()
    sends = CALLERS * SENDS_PER_CALLER
    return {"sends": sends, "seconds": seconds, "per_second": sends / seconds}


def run() -> str:
    figures = measure()
    text = (
        f"Accepted {figures['sends']:,.0f} simple sends from {CALLERS} concurrent callers in "
        f"{figures['seconds']:.2f} s: **{figures['per_second']:,.0f} accepted messages/s**, "
        "each acceptance durable before it was answered."
    )
    print(text)
    return text
