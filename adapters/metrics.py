"""Prometheus metrics: totals and gauges read from the projections at scrape time, and the
delivery latency observed as deliveries happen.

Totals come from the ``send_statistics`` projection, so they never disagree with what the API
reports and neither a restart nor a replay resets them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from .engine import Engine

# (metric name, help, the send_statistics counters it sums)
TOTALS: Final = (
    ("sendtrail_accepted", "Recipients of accepted sends", ("delivery_attempts",)),
    ("sendtrail_rejected", "Sends rejected: by the API's rules or the content scan",
     ("requests_rejected", "rejects")),
    ("sendtrail_delivered", "Recipients delivered", ("delivered",)),
    ("sendtrail_bounced", "Recipients hard-bounced (permanent, expired or suppressed)",
     ("hard_bounced",)),
    ("sendtrail_complained", "Complaints received", ("complained",)),
    ("sendtrail_deferred", "Temporary failures, each retried", ("deferred",)),
)  # fmt: skip
LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class _ProjectionCollector:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        read_model = self.engine.read_model
        totals = read_model.totals()
        for name, documentation, counters in TOTALS:
            yield CounterMetricFamily(
                name, documentation, value=sum(totals[counter] for counter in counters)
            )
        yield GaugeMetricFamily(
            "sendtrail_queue_depth",
            "Recipients awaiting a delivery attempt",
            value=read_model.queue_depth(),
        )
        yield GaugeMetricFamily(
            "sendtrail_notifier_backlog",
            "Notifications waiting to be sent",
            value=read_model.notifications_pending(),
        )
        yield GaugeMetricFamily(
            "sendtrail_log_position",
            "Position of the last event in the log",
            value=self.engine.store.last_position(),
        )


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ProjectionCollector(engine))  # type: ignore[arg-type]
        self.delivery_latency = Histogram(
            "sendtrail_delivery_latency_seconds",
            "From acceptance to delivery (SES's processingTimeMillis)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch(self, collector: object) -> None:
        """Serve another collector's metrics too (the cluster's, on a shared store)."""
        self.registry.register(collector)  # type: ignore[arg-type]

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
