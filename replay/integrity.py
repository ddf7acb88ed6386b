"""``sendtrail verify``: is the log intact from its first event to its last?"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import msgspec

from sendtrail.adapters.read_connection import MISSING_TABLE, ReadConnection
from sendtrail.adapters.sqlite_projections import projection_position
from sendtrail.adapters.sqlite_store import connect
from sendtrail.core.chain import Break, RawEvent, first_break


class IntegrityReport(msgspec.Struct, frozen=True):
    events: int
    problem: Break | None


def check_log(log_path: Path) -> IntegrityReport:
    db = connect(log_path, readonly=True)
    try:
        db.execute("BEGIN")
        counted = _Counter(
            RawEvent(*row)
            for row in db.execute(
                "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
                "FROM events ORDER BY position"
            )
        )
        problem = first_break(counted)
        if problem is None:
            problem = _truncation(db, counted.last)
        db.execute("ROLLBACK")
    finally:
        db.close()
    return IntegrityReport(counted.count, problem)


def check_store(store: RawLog) -> IntegrityReport:
    """The same check through a store (PostgreSQL): its log is read in pages, not one
    snapshot, so the projections' position is read first; the log, append-only, then
    reaches at least that far unless it lost its tail."""
    seen = _store_projection_position(store)
    counted = _Counter(store.read_raw())
    problem = first_break(counted)
    if problem is None and seen > counted.last:
        problem = _tail_missing(counted.last, seen)
    return IntegrityReport(counted.count, problem)


class RawLog(Protocol):
    def read_raw(self, after: int = 0, limit: int | None = None) -> Iterator[RawEvent]: ...

    def reader(self) -> ReadConnection: ...


def _store_projection_position(store: RawLog) -> int:
    try:
        row = (
            store.reader()
            .execute("SELECT position FROM projection_positions WHERE name = ?", ("messages",))
            .fetchone()
        )
    except MISSING_TABLE:
        return 0  # a log whose projections were never set up remembers no position
    return 0 if row is None else int(row[0])


class _Counter:
    """Streams the rows for ``first_break`` and remembers how far it got."""

    def __init__(self, rows: Iterable[RawEvent]) -> None:
        self._rows = rows
        self.count = 0
        self.last = 0

    def __iter__(self) -> Iterator[RawEvent]:
        for raw in self._rows:
            self.count += 1
            self.last = raw.position
            yield raw


def _truncation(db: sqlite3.Connection, last: int) -> Break | None:
    """A chain cannot show its own missing tail; the projections remember how far it went."""
    seen = projection_position(db, "messages") if _has_positions(db) else 0
    return _tail_missing(last, seen) if seen > last else None


def _tail_missing(last: int, seen: int) -> Break:
    return Break(last + 1, f"the log ends at {last} but projections were built up to {seen}")


def _has_positions(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_positions'"
    ).fetchone()
    return row is not None
