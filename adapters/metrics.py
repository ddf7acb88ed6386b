"""Prometheus metrics, read from the projections at scrape time.

Counts come from the same tables the API serves, so a metric never disagrees with what a
client can query, and a restart or a replay does not reset them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from .engine import Engine


class _ProjectionCollector:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        read_model = self.engine.read_model
        recipients = GaugeMetricFamily(
            "sendtrail_recipients", "Recipients by lifecycle state", labels=["state"]
        )
        for state, count in sorted(read_model.status_counts().items()):
            recipients.add_metric([state], count)
        yield recipients
        yield GaugeMetricFamily(
            "sendtrail_queue_depth",
            "Recipients awaiting a delivery attempt",
            value=read_model.queue_depth(),
        )
        yield GaugeMetricFamily(
            "sendtrail_log_position", "Position of the last event in the log",
            value=self.engine.store.last_position(),
        )  # fmt: skip


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ProjectionCollector(engine))  # type: ignore[arg-type]

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
