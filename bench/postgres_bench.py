"""Durable appends through the PostgreSQL store from 50 concurrent writers.

The workload of ``store_bench``: fifty coroutines each append new message streams
(``SendRequested`` + ``SendAccepted``) and wait until each append is durable (committed with
``synchronous_commit=on``). The store alone: projections do not run on PostgreSQL yet. The
server is ``SENDTRAIL_BENCH_POSTGRES_URL`` (default: the local test database); the log goes
to a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import psycopg

from sendtrail.adapters.postgres_store import PostgresEventStore, drop_schema
from sendtrail.core import events as ev

from .store_bench import APPENDS_PER_WRITER, WRITERS, _work

URL = os.environ.get("SENDTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")


async def _drive(store: PostgresEventStore, work: list[list[tuple[str, list[ev.Event]]]]) -> float:
    async def writer(items: list[tuple[str, list[ev.Event]]]) -> None:
        for message_id, events in items:
            await store.append_async(message_id, 0, events)

    started = time.perf_counter()
    await asyncio.gather(*(writer(items) for items in work))
    return time.perf_counter() - started


def measure() -> dict[str, float | str]:
    schema = f"bench_{uuid.uuid4().hex}"
    store = PostgresEventStore(URL, schema=schema)
    try:
        work = _work(datetime.now(UTC))
        seconds = asyncio.run(_drive(store, work))
        facts = _server_facts(store)
    finally:
        store.close()
        drop_schema(URL, schema)
    events = WRITERS * APPENDS_PER_WRITER * 2
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds} | facts


def _server_facts(store: PostgresEventStore) -> dict[str, float | str]:
    """The server's version and how many transactions wrote the log (rows share the xmin
    of the transaction that inserted them), which shows how well group commit batched."""
    with psycopg.connect(store.url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        row = conn.execute(
            f'SELECT COUNT(DISTINCT xmin::text) FROM "{store.schema}".events'
        ).fetchone()
    return {
        "server": str(version[0]).split()[0] if version else "?",
        "commits": float(row[0] if row else 0),
    }


def run() -> str:
    figures = measure()
    events, seconds, commits = (float(figures[k]) for k in ("events", "seconds", "commits"))
    paragraph = (
        f"Durable appends through the PostgreSQL store (local PostgreSQL {figures['server']}, "
        f"`synchronous_commit=on`), {WRITERS} concurrent writers: "
        f"{events:,.0f} events in {seconds:.2f} s, **{events / seconds:,.0f} events/s**, "
        f"written in {commits:,.0f} transactions (group commit: about "
        f"{events / max(commits, 1):,.0f} events per commit). "
        "The store alone; projections do not run on PostgreSQL yet."
    )
    print(paragraph)
    return paragraph
