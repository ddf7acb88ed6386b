"""The shared event store: PostgreSQL, for several processes (API nodes, delivery workers).

Same contract as the SQLite store, same group commit: every append of this process goes
through one writer thread, which takes whatever appends are waiting, checks their expected
versions and writes them (and any content) in one transaction, and answers nobody before the
commit. Readers use a small connection pool.

Ordering across processes
-------------------------
Each writer transaction starts with ``pg_advisory_xact_lock(key)`` (one key per schema)
*before* it reads the head of the log, and the lock is released only when the transaction
ends. So, across every process sharing the schema:

* appends serialise: the head (last position and its hash) read under the lock is the true
  head, so positions are ``head + 1, head + 2...`` with no gaps and the hash chain continues
  from the real predecessor; versions are checked against what is committed, under the lock,
  so two writers can never both append version *n* of a stream (the unique index on
  ``(stream_id, version)`` backs this up);
* positions are assigned in commit order. PostgreSQL makes a transaction visible before it
  releases its locks, so the transaction that writes positions ``N+1...`` cannot read the
  head until the one that wrote ``...N`` is committed and visible. Hence a reader that sees
  position ``N`` committed will already see every position below ``N``: a reader tailing
  ``position > last_seen`` never skips an event that "commits later with a lower position";
  that cannot happen. (A sequence or identity column would not give this: values are taken
  at insert time and transactions commit in any order, leaving transient holes.)

This relies on READ COMMITTED, where each statement takes a fresh snapshot: the head query
runs after the lock is granted and sees the previous holder's commit. Under REPEATABLE READ
the snapshot would be taken by the lock statement itself, before waiting, so the writer
connection sets READ COMMITTED explicitly whatever the server's default.

The cost is that appends from all processes are serial; group commit makes each holder of
the lock write a whole batch, so the lock is taken once per batch, not once per append.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from sendtrail.core import events as ev
from sendtrail.core.chain import GENESIS, RawEvent, chain_hash
from sendtrail.core.ports import AppendResult, ConcurrencyError, StoredEvent

from .clock import Clock, SystemClock, format_timestamp, parse_timestamp

# The group-commit plumbing is shared with the SQLite store rather than copied.
from .group_commit import Append, GroupCommitStore, Outcome
from .postgres_projections import (
    PostgresProjectionConnection,
    PostgresReadConnection,
    set_search_path,
)
from .sqlite_store import Projector, content_address, decode_row

PAGE = 5000  # rows per query when reading the log in position order
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_COLUMNS = 'position, stream_id, version, "type", "schema", data, recorded_at, hash'


def advisory_lock_key(schema: str) -> int:
    """The lock every writer of ``schema`` takes: distinct schemas never contend."""
    digest = hashlib.sha256(f"sendtrail.events:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def create_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the schema and tables if absent; safe when several processes start at once."""
    with conn.transaction():
        # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogue: serialise.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_lock_key(schema),))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " position BIGINT PRIMARY KEY,"
                " stream_id TEXT NOT NULL,"
                " version INTEGER NOT NULL,"
                ' "type" TEXT NOT NULL,'
                ' "schema" INTEGER NOT NULL,'
                " data BYTEA NOT NULL,"
                " recorded_at TEXT NOT NULL,"
                " hash BYTEA NOT NULL,"
                " UNIQUE (stream_id, version))"
            ).format(sql.Identifier(schema, "events"))
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (sha256 TEXT PRIMARY KEY, data BYTEA NOT NULL)"
            ).format(sql.Identifier(schema, "content"))
        )


def drop_schema(url: str, schema: str) -> None:
    """Drop a schema and everything in it (tests and benchmarks clean up with this)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


class _Statements:
    """Every statement, composed once with the schema-qualified table names."""

    def __init__(self, schema: str) -> None:
        names = {"events": sql.Identifier(schema, "events")}
        names["content"] = sql.Identifier(schema, "content")

        def compose(text: str) -> sql.Composed:
            return sql.SQL(text).format(**names)

        self.head = compose("SELECT position, hash FROM {events} ORDER BY position DESC LIMIT 1")
        # One backward index probe per stream. The plainer ``WHERE stream_id = ANY(%s) GROUP
        # BY stream_id`` gets bitmap scans and hash aggregates on a growing, unanalysed table,
        # and cost ten times as much per batch in the benchmark.
        self.versions = compose(
            "SELECT s.id, (SELECT MAX(version) FROM {events} e WHERE e.stream_id = s.id) "
            "FROM unnest(%s::text[]) AS s(id)"
        )
        self.put_content = compose(
            "INSERT INTO {content} (sha256, data) VALUES (%s, %s) ON CONFLICT DO NOTHING"
        )
        self.copy_events = compose(f"COPY {{events}} ({_COLUMNS}) FROM STDIN")
        self.read_stream = compose(
            f"SELECT {_COLUMNS} FROM {{events}} WHERE stream_id = %s ORDER BY version"
        )
        self.read_page = compose(
            f"SELECT {_COLUMNS} FROM {{events}} WHERE position > %s ORDER BY position LIMIT %s"
        )
        self.last_position = compose("SELECT COALESCE(MAX(position), 0) FROM {events}")
        self.stream_version = compose(
            "SELECT COALESCE(MAX(version), 0) FROM {events} WHERE stream_id = %s"
        )
        self.get_content = compose("SELECT data FROM {content} WHERE sha256 = %s")


class PostgresEventStore(GroupCommitStore):
    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        pool_size: int = 8,
        schema: str | None = None,
        durable: bool = True,
        lock_timeout_seconds: float = 30.0,
        projector: Projector | None = None,
    ) -> None:
        """``schema`` holds the tables (created if absent), so one database can hold several
        logs (tests use a fresh one each); by default the connection's current schema, which
        a URL can choose (``?options=-csearch_path%3Dname``). ``durable=False`` turns off
        ``synchronous_commit``: an acknowledged append may then be lost in a server crash
        (simulations, throwaway data). ``projector`` keeps its tables in ``schema`` too,
        updated in each append's transaction, as on SQLite."""
        self.url = url
        self.schema = schema or ""
        self._projector = projector
        self._clock = clock or SystemClock()
        self._durable = durable
        self._lock_timeout = lock_timeout_seconds
        self._writer_db = self._connect_writer()
        try:
            self.schema = schema or _current_schema(self._writer_db)
            if not _SCHEMA_NAME.fullmatch(self.schema):
                raise ValueError(f"schema {self.schema!r} is not a plain SQL identifier")
            create_schema(self._writer_db, self.schema)
            self._setup_projections()
        except BaseException:
            self._writer_db.close()
            raise
        self._lock_key = advisory_lock_key(self.schema)
        self._sql = _Statements(self.schema)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            name=f"sendtrail-readers-{self.schema}",
            # The read side's unqualified table names resolve in this store's schema, even
            # when it was given as ``schema`` rather than in the URL.
            configure=self._configure_reader,
            open=True,
        )
        self._read_connection = PostgresReadConnection(self._pool)
        self._start_writer("sendtrail-pg-writer")

    # --- the port -----------------------------------------------------------------------

    def read_stream(self, stream_id: str) -> list[StoredEvent]:
        rows = self._fetch(self._sql.read_stream, (stream_id,))
        return [decode_row(RawEvent(*row)) for row in rows]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[StoredEvent]:
        for raw in self.read_raw(after, limit):
            yield decode_row(raw)

    def read_raw(self, after: int = 0, limit: int | None = None) -> Iterator[RawEvent]:
        """Rows as stored, undecoded, in pages: no connection is held between pages, and a
        page never has holes (see the module docstring), so paging by position is exact."""
        remaining = limit
        while remaining is None or remaining > 0:
            size = PAGE if remaining is None else min(PAGE, remaining)
            rows = self._fetch(self._sql.read_page, (after, size))
            for row in rows:
                yield RawEvent(*row)
            if len(rows) < size:
                return
            after = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def last_position(self) -> int:
        return int(self._fetch(self._sql.last_position, ())[0][0])

    def stream_version(self, stream_id: str) -> int:
        return int(self._fetch(self._sql.stream_version, (stream_id,))[0][0])

    def put_content(self, data: bytes) -> str:
        """Store content on its own; ``append(..., contents=...)`` saves a commit."""
        self.submit("", 0, (), (data,)).result()
        return content_address(data)

    def get_content(self, sha256: str) -> bytes | None:
        rows = self._fetch(self._sql.get_content, (sha256,))
        return bytes(rows[0][0]) if rows else None

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection whose search path is the store's schema (the
        coordination tables of ``adapters/cluster`` live there too)."""
        with self._pool.connection() as conn:
            yield conn

    def reader(self) -> PostgresReadConnection:
        """Queries on the projection tables, in the read side's SQLite dialect."""
        return self._read_connection

    def close(self) -> None:
        if not self._stop_writer():
            return
        self._writer_db.close()
        self._pool.close()

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections ----------------------------------------------------------------------

    def _fetch(self, statement: sql.Composed, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(statement, params).fetchall()

    def _configure_reader(self, conn: psycopg.Connection[Any]) -> None:
        set_search_path(conn, self.schema)

    def _connect_writer(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True)
        # Explicit, whatever the server default: the chain needs a fresh snapshot after the lock.
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        # A writer stuck behind a lock holder fails its batch rather than hanging every caller.
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false)", (f"{int(self._lock_timeout * 1000)}",)
        )
        if not self._durable:
            conn.execute("SET synchronous_commit = off")
        return conn

    def _live_writer(self) -> psycopg.Connection[Any]:
        """The writer's connection, opened again if the server dropped it (restart, failover)."""
        if self._writer_db.closed or self._writer_db.broken:
            with contextlib.suppress(psycopg.Error):
                self._writer_db.close()
            self._writer_db = self._connect_writer()
            if self._projector is not None:
                set_search_path(self._writer_db, self.schema)
                # Rebound, not replaced: the projectors' loaders hold the wrapper.
                self._projection_db.conn = self._writer_db
        return self._writer_db

    def _setup_projections(self) -> None:
        """Create the projection tables in the store's schema (unqualified names in the
        projectors' SQL resolve there through the writer's search path)."""
        if self._projector is None:
            return
        set_search_path(self._writer_db, self.schema)
        self._projection_db = PostgresProjectionConnection(self._writer_db)
        with self._writer_db.transaction():
            # Serialised like create_schema: processes starting at once create tables once.
            self._writer_db.execute(
                "SELECT pg_advisory_xact_lock(%s)", (advisory_lock_key(self.schema),)
            )
            self._projector.setup(self._projection_db)  # type: ignore[arg-type]

    # --- the writer ---------------------------------------------------------------------

    def _write(self, batch: list[Append]) -> list[Outcome]:
        if self._projector is None:
            return self._write_transaction(batch)
        try:
            outcomes = self._write_transaction(batch)
        except BaseException:
            # The transaction rolled back: the projectors drop what they cached for it.
            self._projector.rolled_back()
            raise
        self._projector.committed()
        return outcomes

    def _write_transaction(self, batch: list[Append]) -> list[Outcome]:
        conn = self._live_writer()
        recorded_at = format_timestamp(self._clock.now())
        with conn.transaction(), conn.cursor() as cursor:
            # Content first, before the lock: it is keyed by its hash, so writing it needs no
            # order, and the bytes (whole messages) cross the network while others append.
            contents = {
                content_address(data): data for request in batch for data in request.contents
            }
            if contents:
                cursor.executemany(self._sql.put_content, list(contents.items()))
            # Then the lock: the head and versions read below are the true ones.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            head = cursor.execute(self._sql.head).fetchone()
            position, previous = (head[0], bytes(head[1])) if head else (0, GENESIS)
            versions = self._versions_in_db(cursor, batch)
            rows, events, outcomes = _plan(batch, versions, position, previous, recorded_at)
            if rows:
                with cursor.copy(self._sql.copy_events) as copy:
                    for row in rows:
                        copy.write_row(row)
            self._project(rows, events, recorded_at)
        return outcomes

    def _project(
        self, rows: list[tuple[Any, ...]], events: list[ev.Event], recorded_at: str
    ) -> None:
        """Update the projections inside the writer's transaction, as the SQLite store does;
        ``committed``/``rolled_back`` follow in ``_write``, once the transaction ended."""
        if self._projector is None or not rows:
            return
        recorded_time = parse_timestamp(recorded_at)
        stored = [
            StoredEvent(
                position=row[0],
                stream_id=row[1],
                version=row[2],
                event=event,
                recorded_at=recorded_time,
                hash=row[7],
            )
            for row, event in zip(rows, events, strict=True)
        ]
        # Pipelined: the projectors' writes go out without waiting for each answer (a read
        # waits only for what precedes it), so the lock is held for fewer round trips.
        with self._projection_db.conn.pipeline():
            self._projector.apply(self._projection_db, stored)  # type: ignore[arg-type]

    def _versions_in_db(self, cursor: psycopg.Cursor[Any], batch: list[Append]) -> dict[str, int]:
        streams = list({request.stream_id for request in batch if request.events})
        if not streams:
            return {}
        rows = cursor.execute(self._sql.versions, (streams,)).fetchall()
        return {stream: version for stream, version in rows if version is not None}


def _current_schema(conn: psycopg.Connection[Any]) -> str:
    """The first schema of the search path, whether it exists yet or not."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row and row[0]:
        return str(row[0])
    # current_schema() is NULL when no schema on the path exists yet: take the path's first.
    path = conn.execute("SELECT current_setting('search_path')").fetchone()
    first = str(path[0] if path else "").split(",")[0].strip().strip('"')
    if not first or first == "$user":
        raise ValueError("no schema given and the connection's search path names none")
    return first


def _plan(
    batch: list[Append],
    versions: dict[str, int],
    position: int,
    previous: bytes,
    recorded_at: str,
) -> tuple[list[tuple[Any, ...]], list[ev.Event], list[Outcome]]:
    """The rows to insert after the head, their events, and each append's outcome (stale
    ones write none)."""
    rows: list[tuple[Any, ...]] = []
    events: list[ev.Event] = []
    outcomes: list[Outcome] = []
    for request in batch:
        if not request.events:
            outcomes.append(AppendResult(request.stream_id, request.expected, 0, 0))
            continue
        current = versions.get(request.stream_id, 0)
        if current != request.expected:
            outcomes.append(ConcurrencyError(request.stream_id, request.expected, current))
            continue
        first = position + 1
        for event in request.events:
            position += 1
            current += 1
            data = ev.encode(event)
            event_type, schema = type(event).__name__, type(event).SCHEMA
            row = (position, request.stream_id, current, event_type, schema, data, recorded_at)
            previous = chain_hash(previous, *row)
            rows.append((*row, previous))
            events.append(event)
        versions[request.stream_id] = current
        outcomes.append(AppendResult(request.stream_id, current, first, position))
    return rows, events, outcomes


__all__ = ["PostgresEventStore", "advisory_lock_key", "create_schema", "drop_schema"]
