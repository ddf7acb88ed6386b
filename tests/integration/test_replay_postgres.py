"""``replay`` in place on PostgreSQL, beside a live store: events appended during the
rebuild are caught up, a reader never sees the tables half-built, and a failed swap leaves
the live projections exactly as they were."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from support.operator_postgres import drive, in_schema
from support.postgres import URL, fresh_schema, url_in_schema

from sendtrail.adapters.engine import Engine
from sendtrail.adapters.sqlite_projections import projection_tables
from sendtrail.replay import postgres_swap
from sendtrail.replay.postgres_swap import replay_in_place
from sendtrail.replay.postgres_verify import verify_postgres_projections

MESSAGES = 40


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test_replay", create=True) as name:
        yield name


@pytest.fixture
def engine(schema: str, tmp_path: Path) -> Iterator[Engine]:
    engine = Engine.open(tmp_path / "data", store_url=url_in_schema(schema), durable=False)
    try:
        for index in range(MESSAGES):
            drive(engine, index)
        yield engine
    finally:
        engine.close()


def live_state(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table's rows, in a stable order."""
    return {
        table: sorted(in_schema(schema, f"SELECT * FROM {table}"), key=repr)
        for table in [*projection_tables(), "projection_positions"]
    }


def test_events_appended_during_the_rebuild_are_caught_up(
    engine: Engine, schema: str, tmp_path: Path
) -> None:
    appended: list[str] = []

    def append_meanwhile(done: int, total: int) -> None:
        # Called after each rebuilt chunk, outside the rebuild's snapshot: a service's append.
        if not appended:
            appended.append(drive(engine, MESSAGES))

    swapped = replay_in_place(
        url_in_schema(schema), tmp_path / "rebuilt.db", progress=append_meanwhile
    )

    assert swapped.rebuild.events == MESSAGES * 4
    assert swapped.caught_up == 4  # the message driven meanwhile: four events
    view = engine.read_model.message(appended[0])
    assert view is not None and view.status == "delivered"
    verification = verify_postgres_projections(url_in_schema(schema), tmp_path / "check.db")
    assert verification.differences == []
    assert verification.live_position == (MESSAGES + 1) * 4


def test_a_failed_swap_leaves_the_live_projections_as_they_were(
    engine: Engine, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A drift the rebuild would repair: after the failure it must still be there.
    in_schema(schema, "UPDATE recipients SET attempts = 99")
    before = live_state(schema)

    def fail(*args: object) -> int:
        raise RuntimeError("the catch-up failed")

    # The catch-up runs last in the swap's transaction, after every table was replaced.
    monkeypatch.setattr(postgres_swap, "_catch_up", fail)
    with pytest.raises(RuntimeError, match="catch-up failed"):
        replay_in_place(url_in_schema(schema), tmp_path / "rebuilt.db")

    assert live_state(schema) == before
    monkeypatch.undo()
    replay_in_place(url_in_schema(schema), tmp_path / "rebuilt.db")
    assert in_schema(schema, "SELECT DISTINCT attempts FROM recipients") == [(1,)]


def test_a_reader_never_sees_the_tables_half_built(
    engine: Engine, schema: str, tmp_path: Path
) -> None:
    counts = sql.SQL(
        "SELECT (SELECT COUNT(*) FROM {messages}), (SELECT COUNT(*) FROM {recipients}), "
        "(SELECT COUNT(*) FROM {suppressed}), (SELECT COUNT(*) FROM {statistics})"
    ).format(
        messages=sql.Identifier(schema, "messages"),
        recipients=sql.Identifier(schema, "recipients"),
        suppressed=sql.Identifier(schema, "suppressed_destinations"),
        statistics=sql.Identifier(schema, "send_statistics"),
    )
    seen: set[tuple[int, ...]] = set()
    done = threading.Event()

    def read_while_replaying() -> None:
        with psycopg.connect(URL, autocommit=True) as reader:
            while not done.is_set():
                row = reader.execute(counts).fetchone()
                assert row is not None
                seen.add(tuple(row))

    expected = tuple(in_schema(schema, counts.as_string())[0])  # type: ignore[arg-type]
    thread = threading.Thread(target=read_while_replaying)
    thread.start()
    try:
        for _ in range(3):
            replay_in_place(url_in_schema(schema), tmp_path / "rebuilt.db")
    finally:
        done.set()
        thread.join()

    assert expected[0] == MESSAGES and all(expected)
    assert seen == {expected}
