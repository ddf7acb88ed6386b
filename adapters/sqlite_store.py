"""The embedded event store: one SQLite file in WAL mode, with group commit.

Every append goes through one writer thread. It takes whatever appends are waiting, checks
their expected versions, writes them and the projections they change in one transaction,
and commits with ``synchronous=FULL`` before any caller hears back: acknowledged means
durable, and fifty concurrent writers cost one fsync, not fifty.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import msgspec
import sqlite_utils

from sendtrail.core import events as ev
from sendtrail.core.chain import GENESIS, RawEvent, chain_events
from sendtrail.core.ports import AppendResult, ConcurrencyError, StoredEvent

from .clock import Clock, SystemClock, format_timestamp, parse_timestamp
from .group_commit import Append, GroupCommitStore, Outcome


class Projector(Protocol):
    """Keeps derived tables in step with the log, inside the writer's transaction."""

    def setup(self, db: sqlite3.Connection) -> None: ...

    def apply(self, db: sqlite3.Connection, events: Sequence[StoredEvent]) -> None: ...

    def committed(self) -> None: ...

    def rolled_back(self) -> None: ...


def create_schema(path: Path) -> None:
    db = sqlite_utils.Database(path)
    db.conn.execute("PRAGMA journal_mode=WAL")
    if "events" not in db.table_names():
        db["events"].create(
            {
                "position": int,
                "stream_id": str,
                "version": int,
                "type": str,
                "schema": int,
                "data": bytes,
                "recorded_at": str,
                "hash": bytes,
            },
            pk="position",
            not_null={"stream_id", "version", "type", "schema", "data", "recorded_at", "hash"},
        )
        db["events"].create_index(["stream_id", "version"], unique=True)
    if "content" not in db.table_names():
        db["content"].create({"sha256": str, "data": bytes}, pk="sha256", not_null={"data"})
    db.conn.commit()
    db.conn.close()


def connect(path: Path, *, readonly: bool = False, durable: bool = True) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # FULL syncs the WAL at every commit: an acknowledged append survives power loss.
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
    db.execute("PRAGMA busy_timeout=30000")
    return db


class SqliteEventStore(GroupCommitStore):
    def __init__(
        self,
        path: str | Path,
        *,
        projector: Projector | None = None,
        clock: Clock | None = None,
        durable: bool = True,
    ) -> None:
        """``durable=False`` skips fsync: only for simulations and tests that throw data away."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_schema(self.path)
        self._clock = clock or SystemClock()
        self._projector = projector
        self._writer_db = connect(self.path, durable=durable)
        if projector is not None:
            projector.setup(self._writer_db)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._load_head()
        self._start_writer("sendtrail-writer")

    # --- the port -----------------------------------------------------------------------

    def read_stream(self, stream_id: str) -> list[StoredEvent]:
        rows = self._reader().execute(
            "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
            "FROM events WHERE stream_id = ? ORDER BY version",
            (stream_id,),
        )
        return [decode_row(RawEvent(*row)) for row in rows]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[StoredEvent]:
        for raw in self.read_raw(after, limit):
            yield decode_row(raw)

    def read_raw(self, after: int = 0, limit: int | None = None) -> Iterator[RawEvent]:
        """Rows as stored, undecoded (for integrity checks and fast replays)."""
        db = connect(self.path, readonly=True)
        try:
            cursor = db.execute(
                "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
                "FROM events WHERE position > ? ORDER BY position LIMIT ?",
                (after, -1 if limit is None else limit),
            )
            while rows := cursor.fetchmany(5000):
                for row in rows:
                    yield RawEvent(*row)
        finally:
            db.close()

    def last_position(self) -> int:
        row = self._reader().execute("SELECT MAX(position) FROM events").fetchone()
        return row[0] or 0

    def stream_version(self, stream_id: str) -> int:
        row = (
            self._reader()
            .execute("SELECT MAX(version) FROM events WHERE stream_id = ?", (stream_id,))
            .fetchone()
        )
        return row[0] or 0

    def put_content(self, data: bytes) -> str:
        """Store content on its own; ``append(..., contents=...)`` saves a commit."""
        self.submit("", 0, (), (data,)).result()
        return content_address(data)

    def get_content(self, sha256: str) -> bytes | None:
        row = (
            self._reader()
            .execute("SELECT data FROM content WHERE sha256 = ?", (sha256,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        if not self._stop_writer():
            return
        self._writer_db.close()
        with self._readers_lock:
            for db in self._readers:
                db.close()
            self._readers.clear()

    def __enter__(self) -> SqliteEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the writer ---------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """The calling thread's read connection (autocommit: each query sees the latest
        commit), for the read side's queries on the projection tables."""
        return self._reader()

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def _load_head(self) -> None:
        row = self._writer_db.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        self._head_position, self._head_hash = (row[0], bytes(row[1])) if row else (0, GENESIS)

    def _write(self, batch: list[Append]) -> list[Outcome]:
        db = self._writer_db
        now = self._clock.now()
        recorded_at = format_timestamp(now)
        recorded_time = parse_timestamp(recorded_at)
        rows: list[tuple[object, ...]] = []
        stored: list[StoredEvent] = []
        outcomes: list[Outcome] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            # Under the write lock the head cannot move; read it again because another
            # process (the CLI beside a running service) may have appended since our last
            # commit. One indexed lookup per batch.
            self._load_head()
            position, previous = self._head_position, self._head_hash
            versions = self._versions_in_db(batch)
            for request in batch:
                if request.contents:
                    db.executemany(
                        "INSERT OR IGNORE INTO content (sha256, data) VALUES (?, ?)",
                        [(content_address(data), data) for data in request.contents],
                    )
                if not request.events:
                    outcomes.append(AppendResult(request.stream_id, request.expected, 0, 0))
                    continue
                current = versions.get(request.stream_id, 0)
                if current != request.expected:
                    outcomes.append(ConcurrencyError(request.stream_id, request.expected, current))
                    continue
                chained = chain_events(
                    previous,
                    position + 1,
                    request.stream_id,
                    current + 1,
                    request.events,
                    recorded_at,
                )
                rows.extend(msgspec.structs.astuple(row) for row in chained)
                stored.extend(
                    StoredEvent(
                        position=row.position,
                        stream_id=row.stream_id,
                        version=row.version,
                        event=event,
                        recorded_at=recorded_time,
                        hash=row.hash,
                    )
                    for row, event in zip(chained, request.events, strict=True)
                )
                first, position = position + 1, chained[-1].position
                current, previous = chained[-1].version, chained[-1].hash
                versions[request.stream_id] = current
                outcomes.append(AppendResult(request.stream_id, current, first, position))
            db.executemany(
                "INSERT INTO events (position, stream_id, version, type, schema, data, "
                "recorded_at, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if self._projector is not None and stored:
                self._projector.apply(db, stored)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            if self._projector is not None:
                self._projector.rolled_back()
            raise
        if self._projector is not None:
            self._projector.committed()
        self._head_position, self._head_hash = position, previous
        return outcomes

    def _versions_in_db(self, batch: list[Append]) -> dict[str, int]:
        """Current versions of the batch's streams, in one query per 500 streams."""
        streams = list({request.stream_id for request in batch if request.events})
        versions: dict[str, int] = {}
        for start in range(0, len(streams), 500):
            chunk = streams[start : start + 500]
            rows = self._writer_db.execute(
                "SELECT stream_id, MAX(version) FROM events "
                f"WHERE stream_id IN ({', '.join('?' * len(chunk))}) GROUP BY stream_id",
                chunk,
            )
            versions.update(rows)
        return versions


def decode_row(raw: RawEvent) -> StoredEvent:
    return StoredEvent(
        position=raw.position,
        stream_id=raw.stream_id,
        version=raw.version,
        event=ev.decode(raw.data, raw.type, raw.schema),
        recorded_at=parse_timestamp(raw.recorded_at),
        hash=bytes(raw.hash),
    )


def content_address(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
