"""What an operator of several processes watches: who is alive, and how much work is claimed.

Served by every process with an HTTP API (``/metrics``), read from the coordination tables at
scrape time, so any API process shows the whole cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from ..config import ROLES
from .tables import LIVE
from .workers import WorkerRegistry


class ClusterCollector:
    def __init__(self, registry: WorkerRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        with self._registry.store.connection() as conn:
            live = dict(
                conn.execute(
                    f"SELECT role, COUNT(*) FROM sendtrail_workers WHERE {LIVE} GROUP BY role",
                    self._registry.params,
                ).fetchall()
            )
            row = conn.execute("SELECT COUNT(*) FROM delivery_claims").fetchone()
        processes = GaugeMetricFamily(
            "sendtrail_processes", "Live sendtrail processes on this store", labels=["role"]
        )
        for role in ROLES:
            processes.add_metric([role], live.get(role, 0))
        yield processes
        yield GaugeMetricFamily(
            "sendtrail_delivery_claims",
            "Recipients claimed by a worker and not yet finished",
            value=row[0] if row else 0,
        )
