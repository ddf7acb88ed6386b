"""``sendtrail verify``: is the log intact from its first event to its last?"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

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
        counted = _Counter(db)
        problem = first_break(counted)
        if problem is None:
            problem = _truncation(db, counted.last)
        db.execute("ROLLBACK")
    finally:
        db.close()
    return IntegrityReport(counted.count, problem)


class _Counter:
    """Streams the rows for ``first_break`` and remembers how far it got."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._rows = db.execute(
            "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
            "FROM events ORDER BY position"
        )
        self.count = 0
        self.last = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for row in self._rows:
            raw = RawEvent(*row)
            self.count += 1
            self.last = raw.position
            yield raw


def _truncation(db: sqlite3.Connection, last: int) -> Break | None:
    """A chain cannot show its own missing tail; the projections remember how far it went."""
    seen = projection_position(db, "messages") if _has_positions(db) else 0
    if seen > last:
        return Break(last + 1, f"the log ends at {last} but projections were built up to {seen}")
    return None


def _has_positions(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_positions'"
    ).fetchone()
    return row is not None
