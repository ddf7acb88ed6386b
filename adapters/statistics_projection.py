"""``send_statistics``: SES's 15-minute sending data points, the daily quota's count, and
the operators' totals.

Each event adds to the counters of the 15-minute bucket it happened in, so the table answers
``GetSendStatistics``, the rolling 24-hour ``SentLast24Hours`` and the Prometheus totals
without reading the log. The first four counters are SES's (``DeliveryAttempts``,
``Bounces``: permanent ones, ``Complaints``, ``Rejects``: content rejections); the others
count every outcome, simulator mail included, for operators.
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

COUNTERS: Final = (
    "delivery_attempts",
    "bounces",
    "complaints",
    "rejects",
    "quota_sent",
    "requests_rejected",
    "delivered",
    "deferred",
    "hard_bounced",
    "complained",
)
SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS send_statistics (\n    bucket TEXT PRIMARY KEY,\n"
    + ",\n".join(f"    {counter} INTEGER NOT NULL DEFAULT 0" for counter in COUNTERS)
    + "\n);"
)
_INDEX: Final = {name: index for index, name in enumerate(COUNTERS)}
_ADD = (
    f"INSERT INTO send_statistics (bucket, {', '.join(COUNTERS)}) "
    f"VALUES (?, {', '.join('?' * len(COUNTERS))}) ON CONFLICT(bucket) DO UPDATE SET "
    # Qualified: PostgreSQL finds a bare ``c`` ambiguous between the row and ``excluded``.
    + ", ".join(f"{c} = send_statistics.{c} + excluded.{c}" for c in COUNTERS)
)


def bucket_of(when: datetime) -> str:
    start = when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)
    return timestamp(start) or ""


def _counts(event: ev.Event) -> dict[str, int] | None:
    """What one event adds, by counter."""
    match event:
        case ev.SendAccepted():
            return {"delivery_attempts": event.recipients, "quota_sent": event.quota_recipients}
        case ev.SendRejected():
            return {"requests_rejected": 1}
        case ev.RecipientDelivered():
            return {"delivered": 1}
        case ev.RecipientDeferred():
            return {"deferred": 1}
        case ev.RecipientBounced() | ev.BounceReported():
            # The mailbox simulator's bounces count toward nothing of SES's (reference 5).
            permanent = event.bounce_type == "Permanent" and not event.simulated
            return {"hard_bounced": 1, "bounces": int(permanent)}
        case ev.DeliveryExpired() | ev.RecipientSuppressed():
            return {"hard_bounced": 1}
        case ev.ComplaintReported():
            return {"complained": 1, "complaints": int(not event.simulated)}
        case ev.ContentRejected():
            return {"rejects": 1}
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
                for name, count in counts.items():
                    bucket[_INDEX[name]] += count
        db.executemany(_ADD, [(bucket, *counts) for bucket, counts in totals.items()])
        record_position(db, self.name, events[-1].position)

    def committed(self) -> None:
        """Nothing is cached between transactions."""

    def rolled_back(self) -> None:
        """Nothing is cached between transactions."""
