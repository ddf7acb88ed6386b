"""One contract, every event store: each implementation must pass all of it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import postgres
from support.postgres import fresh_schema

from sendtrail.adapters.memory_store import MemoryEventStore
from sendtrail.adapters.postgres_store import PostgresEventStore
from sendtrail.adapters.sqlite_store import SqliteEventStore
from sendtrail.core import events as ev
from sendtrail.core.chain import first_break
from sendtrail.core.ports import ConcurrencyError, EventStore

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "memory":
        yield from _closing(MemoryEventStore())
    elif request.param == "sqlite":
        yield from _closing(SqliteEventStore(tmp_path / "events.db"))
    else:
        # A fresh schema per test: tests never see each other's events, and can run in parallel.
        with fresh_schema() as schema:
            yield from _closing(PostgresEventStore(postgres.URL, schema=schema, pool_size=2))


def _closing(implementation: EventStore) -> Iterator[EventStore]:
    yield implementation
    implementation.close()


def requested(message_id: str, *recipients: str) -> ev.SendRequested:
    return ev.SendRequested(
        at=AT,
        message_id=message_id,
        source="sender@example.com",
        destinations=recipients or ("to@example.net",),
    )


def accepted() -> ev.SendAccepted:
    return ev.SendAccepted(at=AT, expires_at=AT)


def test_append_then_read_stream_returns_events_in_version_order(store: EventStore) -> None:
    result = store.append("m1", 0, [requested("m1"), accepted()])

    stored = store.read_stream("m1")

    assert [s.version for s in stored] == [1, 2]
    assert [type(s.event) for s in stored] == [ev.SendRequested, ev.SendAccepted]
    assert stored[0].event == requested("m1")
    assert (result.version, result.first_position, result.last_position) == (2, 1, 2)
    assert store.stream_version("m1") == 2


def test_a_stale_writer_gets_a_clear_error_and_nothing_is_written(store: EventStore) -> None:
    store.append("m1", 0, [requested("m1")])

    with pytest.raises(ConcurrencyError) as error:
        store.append("m1", 0, [requested("m1")])

    assert "expected version 0" in str(error.value) and "at 1" in str(error.value)
    assert store.stream_version("m1") == 1
    assert store.last_position() == 1


def test_a_new_stream_must_be_appended_at_version_zero(store: EventStore) -> None:
    with pytest.raises(ConcurrencyError):
        store.append("fresh", 3, [requested("fresh")])
    assert store.read_stream("fresh") == []


def test_read_all_from_a_position_returns_later_events_in_order(store: EventStore) -> None:
    store.append("a", 0, [requested("a")])
    store.append("b", 0, [requested("b"), accepted()])
    store.append("a", 1, [accepted()])

    everything = list(store.read_all())
    later = list(store.read_all(after=2))

    assert [e.position for e in everything] == [1, 2, 3, 4]
    assert [(e.stream_id, e.version) for e in everything] == [
        ("a", 1),
        ("b", 1),
        ("b", 2),
        ("a", 2),
    ]
    assert [e.position for e in later] == [3, 4]
    assert [e.position for e in store.read_all(after=1, limit=2)] == [2, 3]


def test_positions_strictly_increase_in_commit_order_under_concurrency(store: EventStore) -> None:
    def writer(n: int) -> None:
        for i in range(20):
            store.append(f"w{n}-{i}", 0, [requested(f"w{n}-{i}"), accepted()])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    positions = [e.position for e in store.read_all()]
    assert positions == list(range(1, 8 * 20 * 2 + 1))
    for stream in ("w0-0", "w7-19"):
        assert [e.version for e in store.read_stream(stream)] == [1, 2]


def test_concurrent_writers_to_one_stream_never_interleave_versions(store: EventStore) -> None:
    store.append("hot", 0, [requested("hot")])
    wins: list[int] = []
    losses: list[int] = []

    def contender() -> None:
        try:
            wins.append(store.append("hot", 1, [accepted()]).version)
        except ConcurrencyError:
            losses.append(1)

    threads = [threading.Thread(target=contender) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert wins == [2]
    assert len(losses) == 9
    assert [e.version for e in store.read_stream("hot")] == [1, 2]


def test_submit_resolves_once_durable_and_reports_conflicts_through_the_future(
    store: EventStore,
) -> None:
    first = store.submit("s", 0, [requested("s")])
    assert first.result(timeout=5).version == 1

    stale = store.submit("s", 0, [requested("s")])
    with pytest.raises(ConcurrencyError):
        stale.result(timeout=5)


def test_the_hash_chain_of_an_untouched_log_verifies(store: EventStore) -> None:
    for i in range(5):
        store.append(f"m{i}", 0, [requested(f"m{i}"), accepted()])

    assert first_break(store.read_raw()) is None  # type: ignore[attr-defined]


def test_content_is_stored_once_by_address(store: EventStore) -> None:
    body = b"Subject: hi\r\n\r\nhello\r\n"

    first = store.put_content(body)
    second = store.put_content(body)
    store.append("m", 0, [requested("m")], contents=[b"other"])

    assert first == second
    assert len(first) == 64
    assert store.get_content(first) == body
    assert store.get_content("0" * 64) is None
    assert store.last_position() == 1


def test_old_schema_events_are_upcast_on_read(store: EventStore, tmp_path: Path) -> None:
    # Written by hand as a schema-1 RecipientDelivered would have been.
    legacy = b'{"type":"RecipientDelivered","at":"2026-01-05T09:30:00Z","recipient":"a@x.org",'
    legacy += b'"smtp_reply":"250 2.0.0 Ok"}'
    event = ev.decode(legacy, "RecipientDelivered", 1)
    assert isinstance(event, ev.RecipientDelivered)
    assert event.smtp_response == "250 2.0.0 Ok"
    assert event.processing_ms is None
