"""Rebuild every projection from a PostgreSQL log, into a SQLite file.

The projectors write through a ``sqlite3``-shaped connection, so a rebuild goes to a SQLite
file whatever the store: a scratch file that ``replay --verify`` compares and ``replay``
swaps in, or the output of ``replay --until``. The log is read inside the caller's
transaction (a ``REPEATABLE READ`` snapshot: a service appending meanwhile changes nothing
the rebuild sees).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from sendtrail.adapters.clock import format_timestamp
from sendtrail.adapters.outbox_projection import content_table_loader
from sendtrail.adapters.postgres_projections import PostgresProjectionConnection
from sendtrail.adapters.sqlite_projections import (
    ProjectionSet,
    default_projectors,
    events_table_loader,
)
from sendtrail.core.events import decode
from sendtrail.core.notifications import Publisher

from .rebuild import CHUNK, Progress, RebuildResult, Replayed, fold_chunks, open_scratch


class MissingLog(LookupError):
    """The schema the URL selects holds no event log."""


def projections_loading_from(
    conn: psycopg.Connection[Any], publisher: Publisher | None
) -> ProjectionSet:
    """Every projector, loading streams and content from the PostgreSQL log on ``conn``
    (their loaders speak SQLite's ``?`` dialect: the wrapper translates it)."""
    translated = PostgresProjectionConnection(conn)
    return ProjectionSet(
        default_projectors(
            events_table_loader(translated),  # type: ignore[arg-type]
            load_content=content_table_loader(translated),  # type: ignore[arg-type]
            publisher=publisher,
        )
    )


def require_log(conn: psycopg.Connection[Any]) -> str:
    """The schema holding the log on the connection's search path; ``MissingLog`` when
    there is none (a mistyped schema in ``[store] url``, say)."""
    row = conn.execute("SELECT current_schema(), to_regclass('events') IS NOT NULL").fetchone()
    if row is None or row[0] is None or not row[1]:
        path = conn.execute("SELECT current_setting('search_path')").fetchone()
        raise MissingLog(f"no event log on the search path {path[0] if path else ''!r}")
    return str(row[0])


def snapshot(url: str) -> psycopg.Connection[Any]:
    """A read-only connection whose transactions are ``REPEATABLE READ`` snapshots."""
    conn = psycopg.connect(url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def rebuild_until(
    url: str,
    target: Path,
    until: datetime,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> RebuildResult:
    """The state as of ``until`` (the log's prefix recorded by then) into ``target``."""
    with snapshot(url) as live, live.transaction():
        require_log(live)
        head = min(last_position(live), last_recorded_by(live, format_timestamp(until)))
        return rebuild_from(live, target, head, progress, publisher)


def rebuild_from(
    live: psycopg.Connection[Any],
    target: Path,
    head: int,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> RebuildResult:
    """Fold the log up to position ``head`` into fresh projection tables in ``target``."""
    started = time.perf_counter()
    # The projectors' loaders run inside the caller's snapshot like everything else here.
    projectors = projections_loading_from(live, publisher)
    out = open_scratch(target)
    try:
        projectors.setup(out)
        done, last = fold_chunks(out, projectors, chunks(live, 0, head), head, progress)
    finally:
        out.close()
    return RebuildResult(str(target), done, last, time.perf_counter() - started)


def last_position(live: psycopg.Connection[Any]) -> int:
    row = live.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def last_recorded_by(live: psycopg.Connection[Any], cutoff: str) -> int:
    """The end of the log's prefix recorded at or before ``cutoff``, as on SQLite. The
    stored times are fixed-width text; ``COLLATE "C"`` compares them byte by byte, as
    SQLite does, whatever the database's collation."""
    row = live.execute(
        'SELECT MIN(position) FROM events WHERE recorded_at COLLATE "C" > %s', (cutoff,)
    ).fetchone()
    return last_position(live) if row is None or row[0] is None else int(row[0]) - 1


def chunks(live: psycopg.Connection[Any], after: int, head: int) -> Iterator[list[Replayed]]:
    """The log after ``after`` up to ``head``, in pages by position (a client-side cursor
    fetches a whole result, so paging keeps memory flat)."""
    while after < head:
        rows = live.execute(
            'SELECT position, stream_id, version, "type", "schema", data FROM events '
            "WHERE position > %s AND position <= %s ORDER BY position LIMIT %s",
            (after, head, CHUNK),
        ).fetchall()
        if not rows:
            return
        yield [
            Replayed(position, stream_id, version, decode(bytes(data), event_type, schema))
            for position, stream_id, version, event_type, schema, data in rows
        ]
        after = rows[-1][0]
