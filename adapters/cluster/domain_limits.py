"""Per-domain politeness held by all workers together, not by each one.

Each worker holds a grant per recipient domain (``domain_slots``: transactions it may have
in flight at once) and a few tokens of the domain's shared rate bucket (``domain_tokens``),
and decides locally, on its event loop, from what it holds; only a worker that wants more
than it holds asks the database, from a thread of its own. A grant is changed under the
domain's advisory lock and never raised past what the other live workers leave, so the sum
of grants never exceeds ``max_in_flight``; tokens leave the shared bucket before they are
spent, so the domains' rates hold across workers too.

Fairness: a worker asking for more gets at most an equal share among the workers that want
the domain; one holding more than it uses gives the rest back at its next heartbeat. A
dead worker's grant stops counting when its heartbeat does.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import psycopg

from .tables import LIVE
from .workers import WorkerRegistry

log = logging.getLogger("sendtrail.delivery")

# Waiting for a grant: look again this soon (a grant comes from the next sync, not from a
# transaction ending here).
GRANT_WAIT_SECONDS: Final = 0.02
# Syncs are spaced at least this far apart, however much is wanted.
MIN_SYNC_SECONDS: Final = 0.01

_OTHERS: Final = f"""
SELECT COALESCE(SUM(s.slots), 0), COUNT(*) FILTER (WHERE s.wanted > 0)
FROM domain_slots s JOIN sendtrail_workers w USING (worker_id)
WHERE s.domain = %(domain)s AND s.worker_id <> %(me)s AND w.{LIVE}
"""
_FORGET_DEAD: Final = f"""
DELETE FROM domain_slots s WHERE s.domain = %(domain)s AND NOT EXISTS (
    SELECT 1 FROM sendtrail_workers w WHERE w.worker_id = s.worker_id AND w.{LIVE})
"""
_SET_GRANT: Final = """
INSERT INTO domain_slots (domain, worker_id, slots, wanted)
VALUES (%(domain)s, %(me)s, %(slots)s, %(wanted)s)
ON CONFLICT (domain, worker_id) DO UPDATE SET slots = EXCLUDED.slots, wanted = EXCLUDED.wanted
"""
_DROP_GRANT: Final = "DELETE FROM domain_slots WHERE domain = %(domain)s AND worker_id = %(me)s"
_NEW_BUCKET: Final = """
INSERT INTO domain_tokens (domain, tokens, stamp) VALUES (%(domain)s, %(capacity)s,
clock_timestamp()) ON CONFLICT (domain) DO NOTHING
"""
_REFILL: Final = """
UPDATE domain_tokens SET stamp = clock_timestamp(), tokens = LEAST(%(capacity)s,
    tokens + %(rate)s * EXTRACT(EPOCH FROM clock_timestamp() - stamp))
WHERE domain = %(domain)s RETURNING tokens
"""
_SPEND: Final = "UPDATE domain_tokens SET tokens = tokens - %(taken)s WHERE domain = %(domain)s"


def domain_lock_key(schema: str, domain: str) -> int:
    digest = hashlib.sha256(f"sendtrail.domain:{schema}:{domain}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SharedDomainLimits:
    """The ``DomainAdmission`` of one worker among several (``delivery.throttle``)."""

    def __init__(self, registry: WorkerRegistry, max_in_flight: int, rate: float) -> None:
        if max_in_flight < 1 or rate < 0:
            raise ValueError("a domain needs at least one transaction in flight, rate >= 0")
        self._registry = registry
        self._max = max_in_flight
        self._rate = rate
        self._capacity = max(1.0, rate)  # one second's burst, as the local bucket
        self._batch = max(1, math.ceil(rate / 5))  # tokens taken at once: 200 ms worth
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._slots: dict[str, int] = {}
        self._tokens: Counter[str] = Counter()
        self._want_slots: set[str] = set()
        self._want_tokens: set[str] = set()
        self._review = False  # the next sync looks at every domain held (after a heartbeat)
        self._demand = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._grant_listeners: list[Callable[[], None]] = []

    # --- on the event loop ----------------------------------------------------------------

    def admit(self, domain: str, now: float) -> float | None:
        with self._lock:
            in_flight = self._in_flight[domain]
            if in_flight >= self._max:
                return 0.0
            short_of_slots = in_flight >= self._slots.get(domain, 0)
            short_of_tokens = self._rate > 0 and self._tokens[domain] < 1
            if short_of_slots or short_of_tokens:
                if short_of_slots:
                    self._want_slots.add(domain)
                if short_of_tokens:
                    self._want_tokens.add(domain)
                self._demand.set()
                # Busy already: a transaction ending, or a grant (``on_grant``), wakes the
                # loop; idle: look again soon.
                return 0.0 if in_flight else GRANT_WAIT_SECONDS
            if self._rate > 0:
                self._tokens[domain] -= 1
            self._in_flight[domain] = in_flight + 1
            return None

    def finished(self, domain: str) -> None:
        with self._lock:
            self._in_flight[domain] -= 1
            if self._in_flight[domain] <= 0:
                del self._in_flight[domain]

    # --- the sync thread ------------------------------------------------------------------

    def start(self) -> None:
        # Each heartbeat also gives back what is held and not used.
        self._registry.on_beat(self._review_all)
        self._thread = threading.Thread(target=self._run, name="sendtrail-domain-limits")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._demand.set()
        if self._thread is not None:
            self._thread.join()
        try:
            with self._registry.store.connection() as conn:
                conn.execute(
                    "DELETE FROM domain_slots WHERE worker_id = %s", (self._registry.worker_id,)
                )
        except psycopg.Error:
            log.warning("could not give the domain grants back; they lapse with the heartbeat")

    def _review_all(self) -> None:
        with self._lock:
            self._review = True
        self._demand.set()

    def on_grant(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from the sync thread) when a sync gave more than was held."""
        self._grant_listeners.append(listener)

    def _run(self) -> None:
        spacing = MIN_SYNC_SECONDS
        while not self._stop.is_set():
            self._demand.wait()
            self._demand.clear()
            if self._stop.is_set():
                return
            try:
                gained = self.sync()
            except psycopg.Error as error:
                log.warning("could not update the domain grants: %s", error)
                self._stop.wait(1.0)
                continue
            if gained:
                spacing = MIN_SYNC_SECONDS
                for listener in self._grant_listeners:
                    listener()
            else:
                # Asked and got nothing more: the others hold the rest. Asking again at once
                # would only cost both sides; ask less often until something moves.
                spacing = min(spacing * 2, self._registry.heartbeat_seconds)
            self._stop.wait(spacing)

    def sync(self, review: bool = False) -> bool:
        """Ask for what is wanted (one transaction); after a heartbeat (or with ``review``),
        also give back what is held beyond use or beyond a share. True when a wanted domain
        got more slots or tokens."""
        with self._lock:
            want_slots, self._want_slots = self._want_slots, set()
            want_tokens, self._want_tokens = self._want_tokens, set()
            review, self._review = review or self._review, False
            granting = set(want_slots)
            if review:
                granting |= set(self._slots) | set(self._in_flight)
            in_flight = dict(self._in_flight)
            held = dict(self._slots)
        taking = want_tokens if self._rate > 0 else set()
        if not granting and not taking:
            return False
        grants: dict[str, int] = {}
        tokens: dict[str, int] = {}
        with self._registry.store.connection() as conn, conn.transaction():
            # Sorted: two workers lock the domains they share in one order.
            for domain in sorted(granting | taking):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s)",
                    (domain_lock_key(self._registry.store.schema, domain),),
                )
                params = {**self._registry.params, "domain": domain}
                if domain in granting:
                    busy = in_flight.get(domain, 0)
                    wanted = domain in want_slots
                    grants[domain] = self._grant(conn, params, busy, wanted, review)
                if domain in taking:
                    tokens[domain] = self._take_tokens(conn, params)
        with self._lock:
            for domain, slots in grants.items():
                if slots > 0:
                    self._slots[domain] = slots
                else:
                    self._slots.pop(domain, None)
            for domain, taken in tokens.items():
                self._tokens[domain] = min(self._tokens[domain] + taken, self._batch)
        return any(grants.get(d, 0) > held.get(d, 0) for d in want_slots) or any(tokens.values())

    def _grant(
        self,
        conn: psycopg.Connection[Any],
        params: dict[str, Any],
        busy: int,
        wanted: bool,
        review: bool,
    ) -> int:
        if review:  # now and then is enough: a dead worker's grant is not counted anyway
            conn.execute(_FORGET_DEAD, params)
        held_by_others, others_wanting = conn.execute(_OTHERS, params).fetchone() or (0, 0)
        share = math.ceil(self._max / (int(others_wanting) + 1))
        # Not wanting more: keep what is in use, but no more than a share while others wait.
        kept = min(busy, share) if others_wanting else busy
        target = share if wanted else kept
        grant = max(0, min(target, self._max - int(held_by_others)))
        # What others must leave: the grant, or what is in flight if more (a grant below it
        # only stops new transactions; running ones still count).
        recorded = max(grant, busy)
        if recorded == 0 and not wanted:
            conn.execute(_DROP_GRANT, params)
        else:
            conn.execute(_SET_GRANT, {**params, "slots": recorded, "wanted": int(wanted)})
        return grant

    def _take_tokens(self, conn: psycopg.Connection[Any], params: dict[str, Any]) -> int:
        bucket = {**params, "capacity": self._capacity, "rate": self._rate}
        conn.execute(_NEW_BUCKET, bucket)
        row = conn.execute(_REFILL, bucket).fetchone()
        taken = min(self._batch, math.floor(row[0])) if row else 0
        if taken > 0:
            conn.execute(_SPEND, {**params, "taken": taken})
        return max(0, taken)
