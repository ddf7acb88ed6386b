"""``sendtrail replay`` on a PostgreSQL store: rebuild every projection, then swap it in.

1. The projectors' setup runs on the live schema under the store's advisory lock, as a
   store's start does: the live tables exist and have every column the rebuild has.
2. The log is folded, in one ``REPEATABLE READ`` snapshot, into a scratch SQLite file
   (``postgres_rebuild``), up to the head that snapshot sees. Nothing is locked meanwhile:
   the service goes on appending.
3. The rebuilt rows are copied into temporary tables of this session, still unlocked, so
   the slow transfer from the client is over before anyone has to wait.
4. One transaction takes the store's advisory lock (appends from every process wait for
   it), replaces each live projection table's rows with its temporary table's, folds the
   events appended since the snapshot, and commits.

A reader never sees a half-built table: the rows are deleted and inserted in that one
transaction, and MVCC shows readers the old rows until it commits. (``TRUNCATE`` would be
faster, but it blocks every reader behind an exclusive lock and is not MVCC-safe: a
snapshot taken before the swap would find the tables empty.) A failure anywhere rolls the
transaction back, leaving the live projections as they were; the temporary tables end
with the session.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from sendtrail.adapters.postgres_projections import PostgresProjectionConnection
from sendtrail.adapters.postgres_store import advisory_lock_key
from sendtrail.adapters.sqlite_projections import (
    ProjectionSet,
    default_projectors,
    projection_tables,
)
from sendtrail.core.notifications import Publisher

from .postgres_rebuild import (
    chunks,
    last_position,
    projections_loading_from,
    rebuild_from,
    require_log,
    snapshot,
)
from .rebuild import Progress, RebuildResult

POSITIONS = "projection_positions"


class Swapped(msgspec.Struct, frozen=True):
    rebuild: RebuildResult
    caught_up: int  # events appended while the rebuild ran, folded in by the swap


def replay_in_place(
    url: str,
    scratch: Path,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> Swapped:
    """Rebuild the projections of the schema ``url`` selects (through ``scratch``, a SQLite
    file) and make the rebuild the live state, caught up to the log's head."""
    with psycopg.connect(url, autocommit=True) as conn:
        # Explicit, whatever the server's default: the swap must read the head after the
        # lock is granted, with a fresh snapshot (see ``postgres_store``).
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        schema = require_log(conn)
        key = advisory_lock_key(schema)
        _set_up_live(conn, key, publisher)
        with snapshot(url) as live, live.transaction():
            result = rebuild_from(live, scratch, last_position(live), progress, publisher)
        tables = [*projection_tables(), POSITIONS]
        columns = _load_temporary(conn, scratch, tables)
        caught_up = _swap(conn, key, columns, result.last_position, publisher)
    return Swapped(result, caught_up)


def _set_up_live(conn: psycopg.Connection[Any], key: int, publisher: Publisher | None) -> None:
    """Create (or bring up to date) the live projection tables, serialised with stores
    starting in other processes as their own setup is."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        projectors = ProjectionSet(default_projectors(publisher=publisher))
        projectors.setup(PostgresProjectionConnection(conn))  # type: ignore[arg-type]


def temporary(table: str) -> str:
    """The session's copy of ``table`` (a name of its own: a temporary table named like
    the live one would hide it from every unqualified query of this session)."""
    return f"rebuilt_{table}"


def _load_temporary(
    conn: psycopg.Connection[Any], scratch: Path, tables: list[str]
) -> dict[str, list[str]]:
    """Copy each rebuilt table into a temporary table shaped like the live one; returns
    the columns copied, by table (named, so a column's place in either table is moot)."""
    rebuilt = sqlite3.connect(scratch)
    columns: dict[str, list[str]] = {}
    try:
        for table in tables:
            names = [row[1] for row in rebuilt.execute(f"PRAGMA table_info({table})")]
            columns[table] = names
            listed = ", ".join(names)
            conn.execute(f"CREATE TEMPORARY TABLE {temporary(table)} (LIKE {table})")
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {temporary(table)} ({listed}) FROM STDIN") as copy,
            ):
                for row in rebuilt.execute(f"SELECT {listed} FROM {table}"):
                    copy.write_row(row)
    finally:
        rebuilt.close()
    return columns


def _swap(
    conn: psycopg.Connection[Any],
    key: int,
    columns: dict[str, list[str]],
    rebuilt_position: int,
    publisher: Publisher | None,
) -> int:
    """Replace every live table's rows and catch up, in one transaction under the lock;
    returns the events caught up."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        for table, names in columns.items():
            listed = ", ".join(names)
            conn.execute(f"DELETE FROM {table}")
            conn.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {temporary(table)}")
        return _catch_up(conn, rebuilt_position, publisher)


def _catch_up(conn: psycopg.Connection[Any], after: int, publisher: Publisher | None) -> int:
    """Fold what was appended after the rebuild's position onto the swapped-in rows. Under
    the lock nobody appends, so the head read here is final until the commit."""
    db = PostgresProjectionConnection(conn)
    projectors = projections_loading_from(conn, publisher)
    done = 0
    for chunk in chunks(conn, after, last_position(conn)):
        projectors.apply(db, chunk)  # type: ignore[arg-type]
        done += len(chunk)
    return done
