"""Which event store a configuration asks for: SQLite in the data directory by default,
PostgreSQL when ``[store] url`` names one (``postgresql://...``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .clock import Clock
from .config import Settings
from .postgres_store import PostgresEventStore
from .sqlite_store import Projector, SqliteEventStore

# The log's file name in the data directory (``engine.EVENTS_FILE`` re-exports it).
EVENTS_FILE = "events.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

EventStore = SqliteEventStore | PostgresEventStore
T = TypeVar("T")


def open_store(
    settings: Settings,
    data_dir: Path,
    *,
    projector: Projector | None = None,
    clock: Clock | None = None,
    durable: bool = True,
) -> EventStore:
    return store_at(settings.store.url, data_dir, projector=projector, clock=clock, durable=durable)


def store_at(
    url: str | None,
    data_dir: Path,
    *,
    projector: Projector | None = None,
    clock: Clock | None = None,
    durable: bool = True,
) -> EventStore:
    """The store ``url`` names; SQLite in ``data_dir`` when there is none."""
    if not url:
        return SqliteEventStore(
            Path(data_dir) / EVENTS_FILE, projector=projector, clock=clock, durable=durable
        )
    if not url.startswith(POSTGRES_SCHEMES):
        raise ValueError(f"[store] url {_redacted(url)!r} is not a postgresql:// URL")
    return PostgresEventStore(url, clock=clock, durable=durable, projector=projector)


async def read_store(remote: bool, read: Callable[[str], T], key: str) -> T:
    """A read of the store from an event loop: on a thread when the store is ``remote`` (each
    read a network round trip, which would stall everything else on the loop); in place on
    SQLite, whose local read is quicker than the hop to a thread."""
    if remote:
        return await asyncio.to_thread(read, key)
    return read(key)


def _redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{host}"
