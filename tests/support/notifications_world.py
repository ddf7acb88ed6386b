"""An engine with the notification outbox installed, and the few steps that drive messages
to each outcome through the real commands (the way the delivery and feedback adapters do)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sendtrail.adapters.clock import Clock
from sendtrail.adapters.config import NotificationSettings, Settings, TopicSettings
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.notifier import Notifier
from sendtrail.adapters.notifier.notifier import NotificationClaims
from sendtrail.adapters.outbox_projection import OutboxProjector
from sendtrail.adapters.resources import ResourceRegistry
from sendtrail.adapters.sqlite_projections import default_projectors
from sendtrail.core import commands as cmd
from sendtrail.core import resources as res
from sendtrail.core.notifications import Publisher

ACCOUNT_ID = "123456789012"
IDENTITY_TOPIC = "arn:aws:sns:us-east-1:123456789012:identity-events"
EVENT_TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
ALL_EVENT_TYPES = (
    "SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "RENDERING_FAILURE", "DELIVERY_DELAY",
)  # fmt: skip
RAW = (
    b"From: Sender Name <sender@example.com>\r\n"
    b"To: recipient@example.com\r\n"
    b"Subject: Message sent from Amazon SES\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=UTF-8\r\n"
    b"\r\n"
    b"Hello\r\n"
)


PUBLISHER = Publisher(region="us-east-1", account_id=ACCOUNT_ID)


def outbox_projector() -> OutboxProjector:
    return OutboxProjector(publisher=PUBLISHER)


def open_engine(data: Path, clock: Clock | None = None, store_url: str | None = None) -> Engine:
    return Engine.open(
        data, clock=clock, store_url=store_url, projectors=default_projectors(publisher=PUBLISHER)
    )


def save_identity(engine: Engine, at: datetime, **settings: object) -> res.Identity:
    identity = res.Identity(
        name=str(settings.pop("name", "example.com")),
        created_at=at,
        identity_type=res.DOMAIN,
        trusted=True,
        **settings,  # type: ignore[arg-type]
    )
    ResourceRegistry(engine.store).save(identity, at=at, actor="test")
    return identity


def save_configuration_set(
    engine: Engine,
    at: datetime,
    *destinations: res.EventDestination,
    name: str = "ConfigSet",
) -> None:
    configuration_set = res.ConfigurationSet(
        name=name, created_at=at, event_destinations=destinations
    )
    ResourceRegistry(engine.store).save(configuration_set, at=at, actor="test")


def destination(
    name: str = "sns", topic: str = EVENT_TOPIC, **options: object
) -> res.EventDestination:
    options.setdefault("matching_event_types", ALL_EVENT_TYPES)
    return res.EventDestination(name=name, sns_topic_arn=topic, **options)  # type: ignore[arg-type]


def send(
    engine: Engine,
    message_id: str,
    recipients: tuple[str, ...] = ("recipient@example.com",),
    *,
    source: str = "Sender Name <sender@example.com>",
    raw: bytes = RAW,
    configuration_set: str | None = "ConfigSet",
    feedback_address: str | None = "sender@example.com",
) -> str:
    engine.execute(
        cmd.RequestSend(
            message_id=message_id,
            source=source,
            destinations=recipients,
            operation="SendRawEmail",
            content_sha256=hashlib.sha256(raw).hexdigest(),
            configuration_set=configuration_set,
            feedback_address=feedback_address,
            caller="ses_user",
            source_ip="192.0.2.0",
        ),
        contents=(raw,),
    )
    return message_id


def attempt(engine: Engine, message_id: str, *recipients: str) -> None:
    engine.execute(cmd.StartAttempt(message_id=message_id, recipients=recipients))


def deliver(engine: Engine, message_id: str, recipient: str = "recipient@example.com") -> None:
    attempt(engine, message_id, recipient)
    engine.execute(
        cmd.ReportDelivered(
            message_id=message_id,
            recipient=recipient,
            smtp_response="250 2.6.0 Message received",
            remote_mta_ip="127.0.2.0",
            reporting_mta="mta.example.com",
            processing_ms=11893,
        )
    )


def hard_bounce(engine: Engine, message_id: str, recipient: str = "recipient@example.com") -> None:
    attempt(engine, message_id, recipient)
    engine.execute(
        cmd.ReportHardFailure(
            message_id=message_id,
            recipient=recipient,
            bounce_type="Permanent",
            bounce_subtype="General",
            status="5.1.1",
            diagnostic_code="smtp; 550 5.1.1 user unknown",
            feedback_id=f"{message_id[:-6]}bounce",
            remote_mta_ip="127.0.2.0",
            reporting_mta="dsn; mta.example.com",
        )
    )


def complain(engine: Engine, message_id: str, recipient: str = "recipient@example.com") -> None:
    engine.execute(
        cmd.ReportComplaint(
            message_id=message_id,
            recipient=recipient,
            feedback_id=f"{message_id[:-6]}complaint",
            feedback_type="abuse",
            user_agent="Mozilla/5.0 (...)",
            arrival_date="2017-08-05T00:41:02.669Z",
        )
    )


def settings_for(
    topics: dict[str, TopicSettings], *, relay: str | None = None, **notifications: object
) -> Settings:
    options: dict[str, object] = {
        "account_id": ACCOUNT_ID,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "poll_seconds": 0.05,
        "timeout_seconds": 5.0,
        "relay": relay,
    }
    options.update(notifications)
    return Settings(topics=topics, notifications=NotificationSettings(**options))  # type: ignore[arg-type]


@contextmanager
def running_notifier(
    engine: Engine, settings: Settings, claims: NotificationClaims | None = None
) -> Iterator[Notifier]:
    """Run a notifier on its own thread and event loop while the test drives the engine."""
    loop = asyncio.new_event_loop()
    notifier = Notifier(engine.store, settings, claims=claims)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(notifier.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(notifier.stop())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield notifier
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
