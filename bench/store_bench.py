"""Durable appends through the SQLite store from 50 concurrent writers.

Each writer is a coroutine appending one new message stream at a time (``SendRequested`` and
``SendAccepted``, as an accepted send does), waiting until the append is durable. Measured
twice: the store alone, and with the message projections updated in the same transactions
(how the engine runs it).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sendtrail.adapters.sqlite_projections import ProjectionSet, default_projectors
from sendtrail.adapters.sqlite_store import SqliteEventStore
from sendtrail.core import events as ev

WRITERS = 50
APPENDS_PER_WRITER = 400


def _work(at: datetime) -> list[list[tuple[str, list[ev.Event]]]]:
    work = []
    for writer in range(WRITERS):
        items = []
        for _ in range(APPENDS_PER_WRITER):
            message_id = f"bench-{writer}-{uuid.uuid4()}"
            events: list[ev.Event] = [
                ev.SendRequested(
                    at=at,
                    message_id=message_id,
                    source="sender@example.com",
                    destinations=("rcpt@example.net",),
                ),
                ev.SendAccepted(at=at, expires_at=at),
            ]
            items.append((message_id, events))
        work.append(items)
    return work


async def _drive(store: SqliteEventStore, work: list[list[tuple[str, list[ev.Event]]]]) -> float:
    async def writer(items: list[tuple[str, list[ev.Event]]]) -> None:
        for message_id, events in items:
            await store.append_async(message_id, 0, events)

    started = time.perf_counter()
    await asyncio.gather(*(writer(items) for items in work))
    return time.perf_counter() - started


def measure(with_projections: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        projector = ProjectionSet(default_projectors()) if with_projections else None
        store = SqliteEventStore(Path(directory) / "events.db", projector=projector)
        try:
            work = _work(datetime.now(UTC))
            seconds = asyncio.run(_drive(store, work))
        finally:
            store.close()
    events = WRITERS * APPENDS_PER_WRITER * 2
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds}


def run() -> str:
    alone = measure(with_projections=False)
    projected = measure(with_projections=True)
    lines = [
        "| durable appends, 50 concurrent writers | events | seconds | events/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, figures in (("store alone", alone), ("store + every projection", projected)):
        lines.append(
            f"| {label} | {figures['events']:,.0f} | {figures['seconds']:.2f} | "
            f"{figures['events_per_second']:,.0f} |"
        )
    print("\n".join(lines))
    return "\n".join(lines)
