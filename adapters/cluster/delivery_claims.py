"""Delivery work shared by several workers: each recipient is claimed by one at a time.

Claiming is one statement: the due rows of the queue (``recipients`` with a ``due_at``) are
locked ``FOR UPDATE SKIP LOCKED``, so concurrent claimers pass over each other's rows instead
of queueing behind them, and those without a claim get one in ``delivery_claims``. A row can
still reach two claimers when the first commits between the second's snapshot and its lock;
the insert's ``ON CONFLICT ... WHERE`` sees the committed claim and gives the second nothing.

A claim lasts until its worker releases it (the attempt's outcome is in the log) or dies
(its heartbeat stops, see ``workers``): a dead worker's claims are taken over whole by the
next worker that looks, including recipients it had started (``sending``, under a lease that
has not ended). Those may have been delivered already without the outcome being recorded:
that is the only way a recipient gets the message twice, and at most once per claim the dead
worker held. A claim older than the attempt lease is void too, for a worker alive but stuck.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final

from sendtrail.core import projections as proj
from sendtrail.core.lifecycle import State

from ..delivery.queue import Key
from ..read_model import DueDelivery
from .tables import LIVE
from .workers import WorkerRegistry

_QUEUE_COLUMNS: Final = ", ".join(f"r.{column}" for column in proj.QUEUE_COLUMNS)

# Claim the oldest due recipients nobody holds (or whose claim outlived the lease).
_CLAIM_DUE: Final = f"""
WITH candidates AS (
    SELECT {_QUEUE_COLUMNS} FROM recipients r
    WHERE r.due_at IS NOT NULL AND r.due_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM delivery_claims c
          WHERE c.message_id = r.message_id AND c.address = r.address
            AND c.claimed_at >= clock_timestamp() - make_interval(secs => %(lease)s))
    ORDER BY r.due_at
    LIMIT %(limit)s
    FOR UPDATE OF r SKIP LOCKED
), claimed AS (
    INSERT INTO delivery_claims (message_id, address, worker_id, claimed_at)
    SELECT message_id, address, %(me)s, clock_timestamp() FROM candidates
    ON CONFLICT (message_id, address) DO UPDATE
        SET worker_id = EXCLUDED.worker_id, claimed_at = EXCLUDED.claimed_at
        WHERE delivery_claims.claimed_at < clock_timestamp() - make_interval(secs => %(lease)s)
    RETURNING message_id, address
)
SELECT {", ".join(f"q.{column}" for column in proj.QUEUE_COLUMNS)}
FROM candidates q JOIN claimed USING (message_id, address)
ORDER BY q.due_at
"""

# Take over every claim of a worker that stopped beating (or left).
_TAKE_OVER: Final = f"""
WITH taken AS (
    UPDATE delivery_claims c SET worker_id = %(me)s, claimed_at = clock_timestamp()
    WHERE NOT EXISTS (
        SELECT 1 FROM sendtrail_workers w WHERE w.worker_id = c.worker_id AND w.{LIVE})
    RETURNING c.message_id, c.address
)
SELECT t.message_id, t.address, r.domain, r.status, r.due_at
FROM taken t LEFT JOIN recipients r USING (message_id, address)
"""

# The first entry nobody holds: another worker's claims are its to finish (or, should it
# die, the take-over's), so they are no reason to wake up.
_UPCOMING: Final = f"""
SELECT {_QUEUE_COLUMNS} FROM recipients r
WHERE r.due_at IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM delivery_claims c WHERE c.message_id = r.message_id AND c.address = r.address
      AND c.claimed_at >= clock_timestamp() - make_interval(secs => %(lease)s))
ORDER BY r.due_at LIMIT 1
"""

_RELEASE: Final = """
DELETE FROM delivery_claims c
USING unnest(%(messages)s::text[], %(addresses)s::text[]) AS k(message_id, address)
WHERE c.message_id = k.message_id AND c.address = k.address AND c.worker_id = %(me)s
"""


class PostgresDeliveryQueue:
    """The ``DeliveryQueue`` port for one worker among several on a PostgreSQL store."""

    def __init__(self, registry: WorkerRegistry, *, lease_seconds: float) -> None:
        self._registry = registry
        self._lease_seconds = lease_seconds
        self._last_take_over = 0.0

    def claim(self, now: str, limit: int) -> list[DueDelivery]:
        if not self._registry.fresh():
            return []  # the others may think us dead: take nothing new
        params = {**self._registry.params, "now": now, "limit": limit}
        params["lease"] = self._lease_seconds
        with self._registry.store.connection() as conn:
            rows = conn.execute(_CLAIM_DUE, params).fetchall()
        return [DueDelivery(*row) for row in rows]

    def abandoned(self) -> list[DueDelivery]:
        """Dead workers' claims, looked for at most once per heartbeat: finding none is the
        common case, and a death is noticed only ``dead_after`` seconds late anyway."""
        if time.monotonic() - self._last_take_over < self._registry.heartbeat_seconds:
            return []
        self._last_take_over = time.monotonic()
        if not self._registry.fresh():
            return []
        with self._registry.store.connection() as conn:
            rows = conn.execute(_TAKE_OVER, self._registry.params).fetchall()
        # Only attempts left half-done are ours to finish now. A recipient settled since (no
        # queue row) needs nothing; one waiting for a retry is claimed again when it is due.
        unfinished = [row for row in rows if row[3] == State.SENDING.value]
        self.release((row[0], row[1]) for row in rows if row[3] != State.SENDING.value)
        return [DueDelivery(*row) for row in unfinished]

    def release(self, keys: Iterable[Key]) -> None:
        pairs = list(keys)
        if not pairs:
            return
        params: dict[str, Any] = {
            **self._registry.params,
            "messages": [message_id for message_id, _ in pairs],
            "addresses": [address for _, address in pairs],
        }
        with self._registry.store.connection() as conn:
            conn.execute(_RELEASE, params)

    def upcoming(self, held: int) -> list[DueDelivery]:
        """This worker's own claims are excluded by the query, so ``held`` is not needed."""
        with self._registry.store.connection() as conn:
            rows = conn.execute(_UPCOMING, {"lease": self._lease_seconds}).fetchall()
        return [DueDelivery(*row) for row in rows]
