"""Two workers' notifiers on one PostgreSQL store: every notification is sent, by one of them,
once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from support.notifications_receiver import Behaviour, WebhookReceiver
from support.notifications_world import (
    IDENTITY_TOPIC,
    deliver,
    open_engine,
    running_notifier,
    save_identity,
    send,
    settings_for,
)
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.cluster.notification_claims import PostgresNotificationClaims
from sendtrail.adapters.cluster.workers import WorkerRegistry
from sendtrail.adapters.config import TopicSettings
from sendtrail.adapters.engine import Engine
from sendtrail.core import events as ev

MESSAGES = 40


@pytest.fixture
def store_url() -> Iterator[str]:
    with fresh_schema("notify") as schema:
        yield url_in_schema(schema)


def test_each_notification_is_sent_once_by_one_of_two_workers(
    tmp_path: Path, store_url: str
) -> None:
    writer = open_engine(tmp_path / "api", store_url=store_url)
    save_identity(writer, writer.clock.now(), delivery_topic=IDENTITY_TOPIC)
    for index in range(MESSAGES):
        deliver(writer, send(writer, f"m-{index}", configuration_set=None))
    expected = {
        row[0]
        for row in writer.store.reader().execute("SELECT notification_id FROM notification_outbox")
    }
    assert len(expected) == MESSAGES

    with WebhookReceiver() as receiver, ExitStack() as workers:
        # Slow answers: both workers have requests in flight at once, reading the same rows.
        receiver.behaviours["/hook"] = Behaviour(delay=0.05)
        settings = settings_for({IDENTITY_TOPIC: TopicSettings(url=receiver.url("/hook"))})
        engines: list[Engine] = []
        for name in ("worker-1", "worker-2"):
            engine = open_engine(tmp_path / name, store_url=store_url)
            workers.callback(engine.close)
            engines.append(engine)
            registry = WorkerRegistry(engine.store, "worker")  # type: ignore[arg-type]
            registry.start()
            workers.callback(registry.stop)
            claims = PostgresNotificationClaims(registry)
            workers.enter_context(running_notifier(engine, settings, claims))
        receiver.wait_until(lambda: len(receiver.at("/hook")) >= MESSAGES, timeout=30)

    arrivals = Counter(receiver.arrivals)
    assert set(arrivals) == expected
    assert max(arrivals.values()) == 1, [key for key, n in arrivals.items() if n > 1]
    delivered = Counter(
        stored.event.notification_id
        for stored in writer.store.read_all()
        if isinstance(stored.event, ev.NotificationDelivered)
    )
    writer.close()
    assert set(delivered) == expected and max(delivered.values()) == 1
