"""Reading the notification outbox (the projection ``adapters.outbox_projection`` keeps)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import msgspec

from sendtrail.adapters.outbox_projection import PENDING
from sendtrail.adapters.read_connection import MISSING_TABLE, Readable, ReadConnection
from sendtrail.adapters.sqlite_store import connect

_FIELDS = (
    "notification_id, position, message_id, event_type, channel, kind, endpoint, target, "
    "origin, payload, created_at, status, attempts, next_attempt_at, last_error, "
    "delivered_at, updated_at, version"
)


class OutboxRow(msgspec.Struct, frozen=True):
    notification_id: str
    position: int
    message_id: str
    event_type: str
    channel: str
    kind: str
    endpoint: str
    target: str
    origin: str
    payload: bytes
    created_at: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    delivered_at: str | None
    updated_at: str
    version: int

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


def _row(values: tuple[object, ...]) -> OutboxRow:
    fields = list(values)
    fields[9] = bytes(fields[9])  # type: ignore[arg-type]
    return OutboxRow(*fields)  # type: ignore[arg-type]


class OutboxReader:
    """Queries on the outbox (autocommit: each sees the latest commit): through a connection
    of its own on a SQLite file (the CLI, beside a running service), or through a store's
    ``reader()``, which the store closes."""

    def __init__(self, source: Path | Readable) -> None:
        self._own: ReadConnection | None = None
        if isinstance(source, Path):
            self._own = connect(source)
        self._source = source

    @property
    def _db(self) -> ReadConnection:
        if self._own is not None:
            return self._own
        assert not isinstance(self._source, Path)
        return self._source.reader()

    def due_endpoints(self, now: str) -> list[str]:
        """Endpoints with a pending notification due at ``now`` (a projection timestamp)."""
        try:
            rows = self._db.execute(
                # The literal status lets SQLite use the partial index of pending rows.
                "SELECT DISTINCT endpoint FROM notification_outbox "
                f"WHERE status = '{PENDING}' AND next_attempt_at <= ?",
                (now,),
            ).fetchall()
        except MISSING_TABLE:  # no outbox yet: nothing to send
            return []
        return [endpoint for (endpoint,) in rows]

    def due(self, endpoint: str, now: str, limit: int) -> list[OutboxRow]:
        rows = self._db.execute(
            f"SELECT {_FIELDS} FROM notification_outbox "
            f"WHERE endpoint = ? AND status = '{PENDING}' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, position LIMIT ?",
            (endpoint, now, limit),
        )
        return [_row(row) for row in rows]

    def select(self, where: str = "TRUE", parameters: tuple[object, ...] = ()) -> list[OutboxRow]:
        rows = self._db.execute(
            f"SELECT {_FIELDS} FROM notification_outbox WHERE {where} ORDER BY position, "
            "notification_id",
            parameters,
        )
        return [_row(row) for row in rows]

    def close(self) -> None:
        if isinstance(self._own, sqlite3.Connection):
            self._own.close()
