"""Notifications shared by several workers: each is sent by one worker at a time.

A worker claims the pending rows it read, naming the outbox version it read: a row that
another worker has sent (or failed) meanwhile has a newer version and is not claimed, so it
is not sent twice for one outcome. A claim lasts until the outcome is in the log and the
claim is released, or until its worker's heartbeat stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..outbox_projection import PENDING
from .tables import LIVE
from .workers import WorkerRegistry

_CLAIM: Final = f"""
INSERT INTO notification_claims (notification_id, worker_id, claimed_at)
SELECT o.notification_id, %(me)s, clock_timestamp()
FROM unnest(%(ids)s::text[], %(versions)s::int[]) AS k(notification_id, version)
JOIN notification_outbox o ON o.notification_id = k.notification_id
    AND o.version = k.version AND o.status = '{PENDING}'
ON CONFLICT (notification_id) DO UPDATE
    SET worker_id = EXCLUDED.worker_id, claimed_at = EXCLUDED.claimed_at
    WHERE NOT EXISTS (SELECT 1 FROM sendtrail_workers w
        WHERE w.worker_id = notification_claims.worker_id AND w.{LIVE})
RETURNING notification_id
"""
_RELEASE: Final = (
    "DELETE FROM notification_claims WHERE notification_id = ANY(%(ids)s) AND worker_id = %(me)s"
)


class PostgresNotificationClaims:
    def __init__(self, registry: WorkerRegistry) -> None:
        self._registry = registry

    def claim(self, rows: Iterable[tuple[str, int]]) -> set[str]:
        """The (notification id, version) pairs this worker may now send."""
        pairs = list(rows)
        if not pairs or not self._registry.fresh():
            return set()
        params = {
            **self._registry.params,
            "ids": [notification_id for notification_id, _ in pairs],
            "versions": [version for _, version in pairs],
        }
        with self._registry.store.connection() as conn:
            return {row[0] for row in conn.execute(_CLAIM, params).fetchall()}

    def release(self, notification_ids: Iterable[str]) -> None:
        ids = list(notification_ids)
        if ids:
            with self._registry.store.connection() as conn:
                conn.execute(_RELEASE, {**self._registry.params, "ids": ids})
