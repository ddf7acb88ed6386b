"""What only a shared store must do: several OS processes appending to one log at once."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import psycopg
import pytest
from support import postgres
from support.postgres import fresh_schema

from sendtrail.adapters.config import Settings, StoreSettings
from sendtrail.adapters.engine import EVENTS_FILE
from sendtrail.adapters.postgres_store import PostgresEventStore, advisory_lock_key
from sendtrail.adapters.sqlite_projections import ProjectionSet, default_projectors
from sendtrail.adapters.sqlite_store import SqliteEventStore
from sendtrail.adapters.stores import EVENTS_FILE as STORES_EVENTS_FILE
from sendtrail.adapters.stores import open_store
from sendtrail.core import events as ev
from sendtrail.core.chain import first_break
from sendtrail.core.ports import ConcurrencyError

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
URL = postgres.URL
PROCESSES = 4
OWN_APPENDS = 60  # per process, to streams only it writes (two events each)
SHARED_APPENDS = 25  # per process, successful appends to streams every process contends for
SHARED_STREAMS = ("shared-0", "shared-1", "shared-2")
IN_FLIGHT = 4


def requested(message_id: str) -> ev.SendRequested:
    return ev.SendRequested(
        at=AT, message_id=message_id, source="s@example.com", destinations=("t@example.net",)
    )


def accepted() -> ev.SendAccepted:
    return ev.SendAccepted(at=AT, expires_at=AT)


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test") as name:
        yield name


@pytest.fixture
def store(schema: str) -> Iterator[PostgresEventStore]:
    with PostgresEventStore(URL, schema=schema, pool_size=2) as opened:
        yield opened


# --- the worker processes (module level: the spawn context imports them by name) -----------


def _append_shared(store: PostgresEventStore, stream: str) -> int:
    """One successful append to a contended stream; returns how many conflicts it took."""
    conflicts = 0
    while True:
        version = store.stream_version(stream)
        event = requested(stream) if version == 0 else accepted()
        try:
            store.append(stream, version, [event])
            return conflicts
        except ConcurrencyError:
            conflicts += 1


def _worker(schema: str, process: int, start: Barrier, results: Queue[int]) -> None:
    """Appends to its own streams, four in flight at a time so the writer commits real
    batches, and between them to the shared streams; reports the conflicts it met."""
    with PostgresEventStore(URL, schema=schema, pool_size=1) as store:
        start.wait(timeout=30)
        conflicts = 0
        shared = 0
        for group in range(0, OWN_APPENDS, IN_FLIGHT):
            streams = [f"p{process}-{i}" for i in range(group, group + IN_FLIGHT)]
            pending = [store.submit(s, 0, [requested(s), accepted()]) for s in streams]
            conflicts += _append_shared(store, SHARED_STREAMS[shared % len(SHARED_STREAMS)])
            shared += 1
            for future in pending:
                future.result()
        for i in range(shared, SHARED_APPENDS):
            conflicts += _append_shared(store, SHARED_STREAMS[i % len(SHARED_STREAMS)])
    results.put(conflicts)


class Writers:
    """The writer processes, started together (spawned: nothing inherited but arguments)."""

    def __init__(self, schema: str) -> None:
        context = multiprocessing.get_context("spawn")
        # Held on self: the children unpickle it after start(), and a collected barrier's
        # semaphores are gone by then.
        self._start = context.Barrier(PROCESSES)
        self._results: Queue[int] = context.Queue()
        self._processes = [
            context.Process(target=_worker, args=(schema, n, self._start, self._results))
            for n in range(PROCESSES)
        ]
        for process in self._processes:
            process.start()

    def conflicts(self, timeout: float = 60) -> list[int]:
        """Each process's conflicts, once all have finished; fails if one did not."""
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        codes = [process.exitcode for process in self._processes]
        for process in self._processes:
            if process.is_alive():
                process.kill()
        assert codes == [0] * PROCESSES, f"writer processes ended with {codes}"
        return [self._results.get(timeout=5) for _ in self._processes]


TOTAL_EVENTS = PROCESSES * (OWN_APPENDS * 2 + SHARED_APPENDS)


# --- the tests ----------------------------------------------------------------------------


def test_processes_appending_at_once_keep_versions_positions_and_the_chain_intact(
    store: PostgresEventStore,
) -> None:
    conflicts = Writers(store.schema).conflicts()

    events = list(store.read_all())
    assert [e.position for e in events] == list(range(1, TOTAL_EVENTS + 1))
    by_stream: dict[str, list[int]] = {}
    for stored in events:
        by_stream.setdefault(stored.stream_id, []).append(stored.version)
    for stream, versions in by_stream.items():
        assert versions == list(range(1, len(versions) + 1)), stream
    assert sum(len(by_stream[s]) for s in SHARED_STREAMS) == PROCESSES * SHARED_APPENDS
    assert len(by_stream) == PROCESSES * OWN_APPENDS + len(SHARED_STREAMS)
    assert first_break(store.read_raw()) is None
    assert sum(conflicts) > 0  # the shared streams were really contended


def test_a_reader_tailing_by_position_sees_every_event_once_while_processes_append(
    store: PostgresEventStore,
) -> None:
    writers = Writers(store.schema)
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < TOTAL_EVENTS and time.monotonic() < deadline:
        after = seen[-1] if seen else 0
        # Each poll asks only for what lies beyond the last position seen, as a tailer does.
        seen.extend(stored.position for stored in store.read_all(after=after, limit=50))
    writers.conflicts()

    assert seen == list(range(1, TOTAL_EVENTS + 1))
    assert not [p for p, n in Counter(seen).items() if n > 1]


def test_appends_wait_for_the_advisory_lock_and_a_stale_one_fails_alone_in_its_batch(
    store: PostgresEventStore,
) -> None:
    store.append("hot", 0, [requested("hot")])
    other = psycopg.connect(URL, autocommit=True)
    # Another process holds the log's lock: appends queue behind it and nothing lands.
    with other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_lock_key(store.schema),))
        futures = [
            store.submit("a", 0, [requested("a")]),
            store.submit("hot", 0, [requested("hot")]),  # stale: "hot" is at version 1
            store.submit("hot", 1, [accepted()]),
            store.submit("b", 0, [requested("b"), accepted()], contents=[b"body"]),
        ]
        time.sleep(0.3)
        assert not any(future.done() for future in futures)
        assert store.last_position() == 1

    with pytest.raises(ConcurrencyError):
        futures[1].result(timeout=5)
    landed = [futures[i].result(timeout=5) for i in (0, 2, 3)]
    assert [r.version for r in landed] == [1, 2, 2]
    assert store.last_position() == 5
    assert [e.version for e in store.read_stream("hot")] == [1, 2]
    assert store.get_content(_sha256(b"body")) == b"body"
    assert first_break(store.read_raw()) is None


def test_a_second_store_on_the_same_schema_continues_the_chain(store: PostgresEventStore) -> None:
    store.append("a", 0, [requested("a")])
    with PostgresEventStore(URL, schema=store.schema) as other:
        other.append("b", 0, [requested("b")])
        store.append("a", 1, [accepted()])  # this writer's head is stale: it must re-read it
        other.append("b", 1, [accepted()])

    assert [e.position for e in store.read_all()] == [1, 2, 3, 4]
    assert first_break(store.read_raw()) is None


def test_read_raw_pages_through_a_log_longer_than_a_page(
    store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sendtrail.adapters.postgres_store.PAGE", 3)
    for i in range(4):
        store.append(f"m{i}", 0, [requested(f"m{i}"), accepted()])

    assert [r.position for r in store.read_raw()] == list(range(1, 9))
    assert [r.position for r in store.read_raw(after=2, limit=4)] == [3, 4, 5, 6]
    assert [r.position for r in store.read_raw(after=6, limit=10)] == [7, 8]
    assert list(store.read_raw(limit=0)) == []


def test_append_async_resolves_in_the_callers_event_loop(store: PostgresEventStore) -> None:
    async def append_many() -> list[int]:
        results = await asyncio.gather(
            *(store.append_async(f"m{i}", 0, [requested(f"m{i}")]) for i in range(20))
        )
        return sorted(r.last_position for r in results)

    assert asyncio.run(append_many()) == list(range(1, 21))


def test_open_store_picks_sqlite_by_default_and_postgres_for_a_postgresql_url(
    schema: str, tmp_path: Path
) -> None:
    assert STORES_EVENTS_FILE == EVENTS_FILE
    default = open_store(Settings(), tmp_path)
    try:
        assert isinstance(default, SqliteEventStore)
        assert default.path == tmp_path / EVENTS_FILE
    finally:
        default.close()

    # [store] has no schema key: the URL picks one the libpq way, through the search path.
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{URL}?options=-csearch_path%3D{schema}"
    shared = open_store(Settings(store=StoreSettings(url=url)), tmp_path)
    try:
        assert isinstance(shared, PostgresEventStore)
        assert shared.schema == schema
        shared.append("m", 0, [requested("m")])
        assert shared.stream_version("m") == 1
    finally:
        shared.close()

    # A projector keeps its tables beside the log, in the same schema.
    projected = open_store(
        Settings(store=StoreSettings(url=url)),
        tmp_path,
        projector=ProjectionSet(default_projectors()),
    )
    try:
        projected.append("m-2", 0, [requested("m-2")])
    finally:
        projected.close()
    with psycopg.connect(URL) as conn:
        query = f"SELECT message_id, status FROM {schema}.messages"
        assert conn.execute(query).fetchall() == [("m-2", "requested")]
    with pytest.raises(ValueError, match=r"mysql://u:\*\*\*@h/db"):
        open_store(Settings(store=StoreSettings(url="mysql://u:secret@h/db")), tmp_path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
