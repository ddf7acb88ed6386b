"""``sendtrail replay --verify`` on a PostgreSQL store.

The log is read, and the live projection tables with their position, in one ``REPEATABLE
READ`` transaction: a service appending meanwhile cannot make the two sides disagree. The
rebuild goes into a scratch SQLite file, as on SQLite, and the tables are compared row by
row with values normalised (``bytea`` may arrive as ``memoryview``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from sendtrail.adapters.sqlite_projections import projection_tables
from sendtrail.core.notifications import Publisher

from .compare import POSITION_NAME, PRIMARY_KEYS, Difference, Row, Verification, diff_rows
from .postgres_rebuild import rebuild_from, require_log, snapshot
from .rebuild import Progress


def verify_postgres_projections(
    url: str,
    scratch: Path,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> Verification:
    """Rebuild the log of the schema ``url`` selects up to the live projections' position,
    into ``scratch``, and compare table by table."""
    with snapshot(url) as live, live.transaction():
        require_log(live)
        position = _live_position(live)
        result = rebuild_from(live, scratch, position, progress, publisher)
        differences, compared = _compare(live, scratch)
    return Verification(result, position, differences, compared)


def _live_position(live: psycopg.Connection[Any]) -> int:
    row = live.execute(
        "SELECT position FROM projection_positions WHERE name = %s", (POSITION_NAME,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _compare(live: psycopg.Connection[Any], scratch: Path) -> tuple[list[Difference], int]:
    rebuilt = sqlite3.connect(scratch)
    try:
        differences: list[Difference] = []
        compared = 0
        for table in projection_tables():
            live_rows = _sorted(table, live.execute(f"SELECT * FROM {table}").fetchall())
            rebuilt_rows = _sorted(table, rebuilt.execute(f"SELECT * FROM {table}").fetchall())
            for difference in diff_rows(table, live_rows, rebuilt_rows):
                compared += 1
                if difference is not None:
                    differences.append(difference)
    finally:
        rebuilt.close()
    return differences, compared


def _sorted(table: str, rows: list[Any]) -> list[Row]:
    """Both sides sorted in Python: the databases' collations order text differently, and
    the merge compares keys as Python does (primary keys hold no NULLs)."""
    width = len(PRIMARY_KEYS[table])
    normalised = [tuple(_normalised(value) for value in row) for row in rows]
    return sorted(normalised, key=lambda row: row[:width])  # type: ignore[arg-type, return-value]


def _normalised(value: object) -> object:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value
