"""Queries on the projection tables: what the API, the CLI and the scheduler read."""

from __future__ import annotations

import msgspec

from sendtrail.core import projections as proj
from sendtrail.core.lifecycle import State

from .read_connection import MISSING_TABLE, Readable, ReadConnection


class RecipientView(msgspec.Struct, frozen=True):
    message_id: str
    address: str
    domain: str
    status: str
    attempts: int
    first_attempt_at: str | None
    due_at: str | None
    expires_at: str | None
    last_status: str | None
    last_diagnostic: str | None
    smtp_response: str | None
    bounce_type: str | None
    bounce_subtype: str | None
    updated_at: str


class MessageView(msgspec.Struct, frozen=True):
    message_id: str
    source: str
    status: str
    recipient_count: int
    configuration_set: str | None
    content_sha256: str | None
    requested_at: str
    updated_at: str
    expires_at: str | None
    outgoing_sha256: str | None
    header_message_id: str | None
    version: int
    recipients: tuple[RecipientView, ...] = ()


class DueDelivery(msgspec.Struct, frozen=True):
    message_id: str
    address: str
    domain: str
    status: str
    due_at: str


class FeedbackEntry(msgspec.Struct, frozen=True):
    content_sha256: str
    kind: str
    message_id: str | None
    recipients: str
    reason: str | None
    received_at: str


class ReadModel:
    """Queries through the store's ``reader()``: the same SQL on SQLite and PostgreSQL."""

    def __init__(self, store: Readable) -> None:
        self._store = store

    def _db(self) -> ReadConnection:
        return self._store.reader()

    def message(self, message_id: str) -> MessageView | None:
        db = self._db()
        row = db.execute(
            f"SELECT {', '.join(proj.MESSAGE_COLUMNS)} FROM messages WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            return None
        recipients = db.execute(
            # ``ordinal`` is the request's order, the same on every database; a physical
            # order (SQLite's rowid, PostgreSQL's ctid) moves as rows are rewritten.
            f"SELECT {', '.join(proj.RECIPIENT_COLUMNS)} FROM recipients WHERE message_id = ? "
            "ORDER BY ordinal",
            (message_id,),
        ).fetchall()
        return MessageView(*row, recipients=tuple(RecipientView(*r) for r in recipients))

    def due(self, now: str, limit: int = 500) -> list[DueDelivery]:
        """Queue entries due at ``now`` (a projection timestamp), oldest first."""
        rows = self._db().execute(
            f"SELECT {', '.join(proj.QUEUE_COLUMNS)} FROM delivery_queue WHERE due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [DueDelivery(*row) for row in rows]

    def leased(self, limit: int = 1_000_000) -> list[DueDelivery]:
        """Queue entries in ``sending`` (attempts started and not yet recorded as done)."""
        rows = self._db().execute(
            f"SELECT {', '.join(proj.QUEUE_COLUMNS)} FROM delivery_queue WHERE status = ? "
            "ORDER BY due_at LIMIT ?",
            (State.SENDING.value, limit),
        )
        return [DueDelivery(*row) for row in rows]

    def status_counts(self) -> dict[str, int]:
        rows = self._db().execute("SELECT status, COUNT(*) FROM recipients GROUP BY status")
        return {status: count for status, count in rows}

    def sent_by_bucket(self, since: str) -> list[tuple[str, int]]:
        """Recipients counted toward the daily quota, per 15-minute bucket after ``since``."""
        rows = self._db().execute(
            "SELECT bucket, quota_sent FROM send_statistics WHERE bucket > ? ORDER BY bucket",
            (since,),
        )
        return [(bucket, int(count)) for bucket, count in rows]

    def send_statistics(self, since: str) -> list[tuple[str, int, int, int, int]]:
        """(bucket, delivery attempts, bounces, complaints, rejects) after ``since``."""
        rows = self._db().execute(
            "SELECT bucket, delivery_attempts, bounces, complaints, rejects "
            "FROM send_statistics WHERE bucket > ? ORDER BY bucket",
            (since,),
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def feedback(self, *, unmatched_only: bool = False, limit: int = 100) -> list[FeedbackEntry]:
        """Feedback mail received, newest first; ``unmatched_only``: what could not be tied."""
        where = "WHERE message_id IS NULL " if unmatched_only else ""
        rows = self._db().execute(
            "SELECT content_sha256, kind, message_id, recipients, reason, received_at "
            f"FROM feedback_inbox {where}ORDER BY received_at DESC LIMIT ?",
            (limit,),
        )
        return [FeedbackEntry(*row) for row in rows]

    def totals(self) -> dict[str, int]:
        """Every counter of ``send_statistics``, summed over all time."""
        from .statistics_projection import COUNTERS

        sums = ", ".join(f"COALESCE(SUM({counter}), 0)" for counter in COUNTERS)
        row = self._db().execute(f"SELECT {sums} FROM send_statistics").fetchone()
        return dict(zip(COUNTERS, (int(value) for value in row), strict=True))

    def notifications_pending(self) -> int:
        try:
            row = (
                self._db()
                .execute("SELECT COUNT(*) FROM notification_outbox WHERE status = 'pending'")
                .fetchone()
            )
        except MISSING_TABLE:  # no outbox in this database
            return 0
        return int(row[0])

    def queue_depth(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM delivery_queue").fetchone()[0])

    def close(self) -> None:
        """Nothing to close: the connections are the store's, closed with it."""
