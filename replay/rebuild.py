"""Rebuild every projection from the log, into a separate database.

The log is streamed in chunks and each chunk is folded and written in one transaction, so
memory stays flat however long the log is. The live tables are never touched here: the
rebuilt file is compared with them (``replay.compare``) or swapped in (``replay.swap``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import msgspec

from sendtrail.adapters.clock import format_timestamp
from sendtrail.adapters.outbox_projection import content_table_loader
from sendtrail.adapters.sqlite_projections import (
    ProjectionSet,
    default_projectors,
    events_table_loader,
)
from sendtrail.adapters.sqlite_store import connect
from sendtrail.core.events import Event, decode
from sendtrail.core.notifications import Publisher

CHUNK = 20_000
Progress = Callable[[int, int], None]


class RebuildResult(msgspec.Struct, frozen=True):
    path: str
    events: int
    last_position: int
    seconds: float


def rebuild(
    log_path: Path,
    target: Path,
    *,
    until: datetime | None = None,
    upto_position: int | None = None,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> RebuildResult:
    """Fold the log at ``log_path`` into fresh projection tables in ``target``.

    ``until`` stops at the last event recorded at or before that instant; ``upto_position``
    stops at a position (a consistent point to compare against the live tables).
    """
    started = time.perf_counter()
    out = open_scratch(target)
    streams = connect(log_path, readonly=True)
    reader = connect(log_path, readonly=True)
    try:
        projectors = ProjectionSet(
            default_projectors(
                events_table_loader(streams),
                load_content=content_table_loader(streams),
                publisher=publisher,
            )
        )
        projectors.setup(out)
        head = upto_position if upto_position is not None else last_position(reader)
        if until is not None:
            head = min(head, _last_recorded_by(reader, format_timestamp(until)))
        done, last = fold_chunks(out, projectors, _chunks(reader, head), head, progress)
    finally:
        reader.close()
        streams.close()
        out.close()
    return RebuildResult(str(target), done, last, time.perf_counter() - started)


def open_scratch(target: Path) -> sqlite3.Connection:
    """A fresh SQLite file for rebuilt projections, in autocommit mode."""
    target.unlink(missing_ok=True)
    out = sqlite3.connect(target, isolation_level=None)
    # The rebuilt file is scratch until it is compared or swapped in: no journal, no fsync.
    out.execute("PRAGMA journal_mode=OFF")
    out.execute("PRAGMA synchronous=OFF")
    out.execute("PRAGMA locking_mode=EXCLUSIVE")
    out.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages, a bound rather than a cost
    return out


def fold_chunks(
    out: sqlite3.Connection,
    projectors: ProjectionSet,
    chunks: Iterable[list[Replayed]],
    head: int,
    progress: Progress | None,
) -> tuple[int, int]:
    """Apply each chunk in one transaction; returns (events folded, last position)."""
    done = last = 0
    for chunk in chunks:
        out.execute("BEGIN")
        projectors.apply(out, chunk)
        out.execute("COMMIT")
        projectors.committed()
        done += len(chunk)
        last = chunk[-1].position
        if progress is not None:
            progress(done, head)
    return done, last


def last_position(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0])


class Replayed(msgspec.Struct, frozen=True):
    """Just what the projectors read: a rebuild does not need hashes or recording times."""

    position: int
    stream_id: str
    version: int
    event: Event


def _last_recorded_by(db: sqlite3.Connection, cutoff: str) -> int:
    """The end of the log's prefix recorded at or before ``cutoff``."""
    row = db.execute("SELECT MIN(position) FROM events WHERE recorded_at > ?", (cutoff,)).fetchone()
    return last_position(db) if row[0] is None else int(row[0]) - 1


def _chunks(db: sqlite3.Connection, head: int) -> Iterator[list[Replayed]]:
    rows = db.execute(
        "SELECT position, stream_id, version, type, schema, data FROM events "
        "WHERE position <= ? ORDER BY position",
        (head,),
    )
    while batch := rows.fetchmany(CHUNK):
        yield [
            Replayed(position, stream_id, version, decode(data, event_type, schema))
            for position, stream_id, version, event_type, schema, data in batch
        ]
