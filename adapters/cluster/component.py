"""The service component that makes a process one worker among several on PostgreSQL.

It registers the process (``workers``), runs the wake-ups (``wakeups``), and hands the
delivery scheduler and the notifier what they take their work through. It starts first and
stops last, so that the process leaves (and its unfinished work is taken over) only after
its own workers have stopped.
"""

from __future__ import annotations

from ..config import Settings
from ..delivery.scheduler import lease_seconds
from ..postgres_store import PostgresEventStore
from .delivery_claims import PostgresDeliveryQueue
from .domain_limits import SharedDomainLimits
from .notification_claims import PostgresNotificationClaims
from .wakeups import Wakeups
from .workers import WorkerRegistry


class Cluster:
    name = "cluster"

    def __init__(self, store: PostgresEventStore, settings: Settings, role: str) -> None:
        self.settings = settings
        self.registry = WorkerRegistry(
            store,
            role,
            heartbeat_seconds=settings.workers.heartbeat_seconds,
            dead_after_seconds=settings.workers.dead_after_seconds,
        )
        self.wakeups = Wakeups(store)

    def delivery_queue(self) -> PostgresDeliveryQueue:
        return PostgresDeliveryQueue(
            self.registry, lease_seconds=lease_seconds(self.settings.delivery)
        )

    def domain_limits(self) -> SharedDomainLimits:
        delivery = self.settings.delivery
        return SharedDomainLimits(
            self.registry, delivery.max_in_flight_per_domain, delivery.domain_rate_limit
        )

    def notification_claims(self) -> PostgresNotificationClaims:
        return PostgresNotificationClaims(self.registry)

    @property
    def max_sleep(self) -> float:
        """How long a worker sleeps without a wake-up: it must still notice a dead worker's
        work soon after the heartbeat says so."""
        return min(5.0, self.settings.workers.dead_after_seconds / 2)

    async def start(self) -> None:
        self.registry.start()
        self.wakeups.start()

    async def stop(self) -> None:
        self.wakeups.stop()
        self.registry.stop()
