"""``send_statistics``: SES's 15-minute sending data points, and the daily quota's count.

Each event adds to the counters of the 15-minute bucket it happened in, so the table answers
``GetSendStatistics`` and the rolling 24-hour ``SentLast24Hours`` without reading the log.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sendtrail.core import events as ev
from sendtrail.core.projections import timestamp

from .sqlite_projections import Logged, record_position

COUNTERS: Final = ("delivery_attempts", "bounces", "complaints", "rejects", "quota_sent")
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS send_statistics (
    bucket TEXT PRIMARY KEY,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    bounces INTEGER NOT NULL DEFAULT 0,
    complaints INTEGER NOT NULL DEFAULT 0,
    rejects INTEGER NOT NULL DEFAULT 0,
    quota_sent INTEGER NOT NULL DEFAULT 0
);
"""
_ADD = (
    f"INSERT INTO send_statistics (bucket, {', '.join(COUNTERS)}) "
    f"VALUES (?, {', '.join('?' * len(COUNTERS))}) ON CONFLICT(bucket) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
)


def bucket_of(when: datetime) -> str:
    start = when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)
    return timestamp(start) or ""


def _counts(event: ev.Event) -> tuple[int, int, int, int, int] | None:
    """(delivery attempts, bounces, complaints, rejects, quota sent) one event adds."""
    match event:
        case ev.SendAccepted():
            return (event.recipients, 0, 0, 0, event.quota_recipients)
        # The mailbox simulator's bounces and complaints count toward nothing (SES).
        case ev.RecipientBounced() | ev.BounceReported() if (
            event.bounce_type == "Permanent" and not event.simulated
        ):
            return (0, 1, 0, 0, 0)
        case ev.ComplaintReported() if not event.simulated:
            return (0, 0, 1, 0, 0)
        case ev.ContentRejected():
            return (0, 0, 0, 1, 0)
    return None


class StatisticsProjector:
    name: Final = "statistics"
    tables: Final = ("send_statistics",)

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        totals: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
        for stored in events:
            counts = _counts(stored.event)
            if counts is not None:
                bucket = totals[bucket_of(stored.event.at)]
                for index, count in enumerate(counts):
                    bucket[index] += count
        db.executemany(_ADD, [(bucket, *counts) for bucket, counts in totals.items()])
        record_position(db, self.name, events[-1].position)

    def committed(self) -> None:
        """Nothing is cached between transactions."""

    def rolled_back(self) -> None:
        """Nothing is cached between transactions."""
