"""``feedback_inbox``: every feedback mail received, tied to a message or kept as unmatched."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from sendtrail.core import events as ev
from sendtrail.core.projections import timestamp

from .sqlite_projections import Logged, record_position

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS feedback_inbox (
    content_sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    message_id TEXT,
    recipients TEXT NOT NULL,
    reason TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_unmatched ON feedback_inbox (received_at)
    WHERE message_id IS NULL;
"""


class FeedbackInboxProjector:
    name: Final = "feedback"
    tables: Final = ("feedback_inbox",)

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        rows = [
            (event.content_sha256, event.kind, event.message_id, ",".join(event.recipients),
             event.reason, timestamp(event.at))
            for event in (stored.event for stored in events)
            if isinstance(event, ev.FeedbackReceived)
        ]  # fmt: skip
        db.executemany(
            "INSERT OR REPLACE INTO feedback_inbox (content_sha256, kind, message_id, "
            "recipients, reason, received_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        record_position(db, self.name, events[-1].position)

    def committed(self) -> None:
        """Nothing is cached between transactions."""

    def rolled_back(self) -> None:
        """Nothing is cached between transactions."""
