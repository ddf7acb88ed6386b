"""The projections on PostgreSQL: the same events give the same tables as on SQLite.

Realistic flows are decided by the core against states folded from the PostgreSQL log, and
every append goes to a PostgreSQL store and a SQLite store, both with every default
projector; then every projection table is compared row by row.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from support import postgres
from support.postgres import fresh_schema

from sendtrail.adapters.clock import Clock
from sendtrail.adapters.postgres_store import PostgresEventStore
from sendtrail.adapters.sqlite_projections import (
    ProjectionSet,
    default_projectors,
    projection_tables,
)
from sendtrail.adapters.sqlite_store import SqliteEventStore
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.decider import decide
from sendtrail.core.notifications import Publisher
from sendtrail.core.state import fold

URL = postgres.URL
AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
MESSAGES = 300
PUBLISHER = Publisher(region="us-east-1", account_id="123456789012")
TOPIC = "arn:aws:sns:us-east-1:123456789012:events"
IDENTITY_TOPIC = "arn:aws:sns:us-east-1:123456789012:identity"
RAW = (
    b"From: Sender <sender@example.com>\r\nTo: r@example.net\r\nSubject: Hello\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello\r\n"
)
SUPPRESS_ALL = cmd.SuppressionPolicy(reasons=("BOUNCE", "COMPLAINT"))


class FixedClock(Clock):
    """Both stores stamp ``recorded_at`` alike (no projection reads it; the log compares)."""

    def now(self) -> datetime:
        return AT


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test") as name:
        yield name


class Both:
    """Every append to both stores, decided against the PostgreSQL log."""

    def __init__(self, postgres: PostgresEventStore, sqlite: SqliteEventStore) -> None:
        self.postgres = postgres
        self.sqlite = sqlite

    def append(
        self, stream: str, events: Sequence[ev.Event], contents: tuple[bytes, ...] = ()
    ) -> None:
        version = self.postgres.stream_version(stream)
        self.postgres.append(stream, version, events, contents)
        self.sqlite.append(stream, version, events, contents)

    def execute(self, command: cmd.Command, at: datetime, contents: tuple[bytes, ...] = ()) -> None:
        state = fold([stored.event for stored in self.postgres.read_stream(command.message_id)])
        self.append(command.message_id, decide(command, state, at), contents)


def projectors() -> ProjectionSet:
    return ProjectionSet(default_projectors(publisher=PUBLISHER))


def save(both: Both, resource: res.AnyResource, at: datetime) -> None:
    stream = res.stream_id(res.KIND_OF[type(resource)], resource.name)
    both.append(stream, [ev.ResourceSaved(at=at, actor="test", resource=resource)])


def set_up_resources(both: Both) -> None:
    save(both, res.Account(name="account", created_at=AT), AT)
    identity = res.Identity(
        name="example.com",
        created_at=AT,
        identity_type=res.DOMAIN,
        trusted=True,
        bounce_topic=IDENTITY_TOPIC,
        complaint_topic=IDENTITY_TOPIC,
        delivery_topic=IDENTITY_TOPIC,
        headers_in_delivery=True,
    )
    save(both, identity, AT)
    destination = res.EventDestination(
        name="sns",
        sns_topic_arn=TOPIC,
        matching_event_types=("SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "DELIVERY_DELAY"),
    )
    save(
        both,
        res.ConfigurationSet(name="ConfigSet", created_at=AT, event_destinations=(destination,)),
        AT,
    )
    save(both, res.Template(name="Welcome", created_at=AT, subject="Hi {{name}}"), AT)
    stream = res.stream_id(res.TEMPLATE, "Welcome")
    both.append(stream, [ev.ResourceDeleted(at=AT, kind=res.TEMPLATE, name="Welcome")])


def send(both: Both, index: int, at: datetime) -> tuple[str, str]:
    message_id = f"m-{index:04d}"
    recipient = f"r{index}@example.net"
    raw = RAW + str(index).encode()
    both.execute(
        cmd.RequestSend(
            message_id=message_id,
            source="Sender <sender@example.com>",
            destinations=(recipient,),
            operation="SendRawEmail",
            content_sha256=hashlib.sha256(raw).hexdigest(),
            configuration_set="ConfigSet" if index % 2 else None,
            quota_recipients=1,
        ),
        at,
        (raw,),
    )
    return message_id, recipient


def run_flow(both: Both, index: int) -> None:
    """One message through one of several fates, its events minutes apart (several buckets)."""
    at = AT + timedelta(seconds=index * 17)
    message_id, recipient = send(both, index, at)
    attempt = cmd.StartAttempt(message_id=message_id, recipients=(recipient,))
    delivered = cmd.ReportDelivered(
        message_id=message_id, recipient=recipient, smtp_response="250 2.0.0 Ok"
    )
    soft = cmd.ReportSoftFailure(
        message_id=message_id,
        recipient=recipient,
        status="4.2.2",
        diagnostic_code="smtp; 452 4.2.2 Mailbox full",
        delay_type="MailboxFull",
        jitter=0.5,
    )
    fate = index % 6
    if fate == 5:
        return  # still queued: its recipient row stays in the delivery queue
    both.execute(attempt, at + timedelta(seconds=1))
    if fate in (0, 3, 4):
        both.execute(delivered, at + timedelta(seconds=2))
    if fate == 1:
        both.execute(
            cmd.ReportHardFailure(
                message_id=message_id,
                recipient=recipient,
                bounce_type="Permanent",
                bounce_subtype="General",
                status="5.1.1",
                diagnostic_code="smtp; 550 5.1.1 user unknown",
                feedback_id=f"{message_id}-bounce",
                suppression=SUPPRESS_ALL,
            ),
            at + timedelta(seconds=2),
        )
    if fate == 2:
        both.execute(soft, at + timedelta(seconds=2))
    if fate == 3:
        both.execute(
            cmd.ReportComplaint(
                message_id=message_id,
                recipient=recipient,
                feedback_id=f"{message_id}-complaint",
                feedback_type="abuse",
                suppression=SUPPRESS_ALL,
            ),
            at + timedelta(seconds=3),
        )
    if fate == 4:
        both.execute(
            cmd.ReportBounce(
                message_id=message_id,
                recipient=recipient,
                bounce_type="Transient",
                bounce_subtype="MailboxFull",
                feedback_id=f"{message_id}-dsn",
            ),
            at + timedelta(seconds=3),
        )


def feedback_and_suppression(both: Both) -> None:
    for index in range(20):
        at = AT + timedelta(minutes=index)
        sha = hashlib.sha256(f"feedback {index}".encode()).hexdigest()
        both.append(
            f"feedback/{sha}",
            [
                ev.FeedbackReceived(
                    at=at,
                    content_sha256=sha,
                    kind="bounce" if index % 2 else "unknown",
                    envelope_recipients=("bounces@example.com",),
                    message_id=f"m-{index:04d}" if index % 3 else None,
                    recipients=(f"r{index}@example.net",),
                    reason=None if index % 3 else "no message matches",
                )
            ],
        )
        address = f"Listed{index}@Example.org"
        stream = f"{res.SUPPRESSION}/{address.lower()}"
        both.append(stream, [ev.AddressSuppressed(at=at, address=address, reason="BOUNCE")])
        if index % 4 == 0:
            both.append(stream, [ev.AddressUnsuppressed(at=at, address=address)])


def notification_outcomes(both: Both) -> None:
    """Delivery outcomes onto the outbox rows the flows created."""
    ids = [row[0] for row in table_rows(both.sqlite.path, "notification_outbox")]
    assert len(ids) > 100, "the flows should have called for notifications"
    for index, notification_id in enumerate(ids):
        at = AT + timedelta(hours=1, seconds=index)
        if index % 4 == 0:
            outcome: list[ev.Event] = [
                ev.NotificationDelivered(at=at, notification_id=notification_id, attempt=1)
            ]
        elif index % 4 == 1:
            outcome = [
                ev.NotificationAttemptFailed(
                    at=at,
                    notification_id=notification_id,
                    attempt=1,
                    error="HTTP 503",
                    retry_at=at + timedelta(seconds=30),
                )
            ]
        elif index % 4 == 2:
            outcome = [
                ev.NotificationParked(
                    at=at, notification_id=notification_id, attempts=5, error="HTTP 500"
                ),
                ev.NotificationRetried(at=at, notification_id=notification_id, actor="cli"),
            ]
        else:
            continue
        both.append(f"notification/{notification_id}", outcome)


# --- comparing ------------------------------------------------------------------------------


def normalised(value: object) -> object:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def table_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        db.close()
    return sorted((tuple(normalised(v) for v in row) for row in rows), key=repr)


def postgres_rows(schema: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(URL) as conn:
        rows = conn.execute(f"SELECT * FROM {schema}.{table}").fetchall()
    return sorted((tuple(normalised(v) for v in row) for row in rows), key=repr)


def test_every_projection_table_matches_sqlite_row_for_row(schema: str, tmp_path: Path) -> None:
    clock = FixedClock()
    postgres = PostgresEventStore(
        URL, schema=schema, pool_size=2, clock=clock, durable=False, projector=projectors()
    )
    sqlite = SqliteEventStore(
        tmp_path / "events.db", clock=clock, durable=False, projector=projectors()
    )
    try:
        both = Both(postgres, sqlite)
        set_up_resources(both)
        for index in range(MESSAGES):
            run_flow(both, index)
        feedback_and_suppression(both)
        notification_outcomes(both)
        assert postgres.last_position() == sqlite.last_position() > 1000
    finally:
        postgres.close()
        sqlite.close()

    tables = [*projection_tables(), "projection_positions", "delivery_queue"]
    for table in tables:
        expected = table_rows(tmp_path / "events.db", table)
        assert expected or table == "resources", f"{table} should not be empty"
        assert postgres_rows(schema, table) == expected, table
    # Every fate left its mark: each table saw what it projects.
    statuses = {row[2] for row in table_rows(tmp_path / "events.db", "messages")}
    assert len(statuses) >= 4, statuses


class Failing:
    """A projector that fails on the stream ``boom``, after the others wrote their rows."""

    name = "failing"
    tables = ()

    def setup(self, db: object) -> None:
        """No tables."""

    def apply(self, db: object, events: Sequence[ev.Event]) -> None:
        if any(stored.stream_id == "boom" for stored in events):  # type: ignore[attr-defined]
            raise RuntimeError("boom")

    def committed(self) -> None:
        """Nothing cached."""

    def rolled_back(self) -> None:
        """Nothing cached."""


def requested(message_id: str) -> ev.SendRequested:
    return ev.SendRequested(
        at=AT, message_id=message_id, source="s@example.com", destinations=("t@example.net",)
    )


def test_a_failing_projector_rolls_back_the_events_and_every_projection(schema: str) -> None:
    projector = ProjectionSet([*default_projectors(publisher=PUBLISHER), Failing()])
    with PostgresEventStore(URL, schema=schema, pool_size=2, projector=projector) as store:
        store.append("m-1", 0, [requested("m-1")])
        with pytest.raises(RuntimeError, match="boom"):
            store.append("boom", 0, [requested("boom")])
        store.append("m-2", 0, [requested("m-2")])
        assert store.stream_version("boom") == 0
    assert [row[0] for row in postgres_rows(schema, "messages")] == ["m-1", "m-2"]
    positions = dict(postgres_rows(schema, "projection_positions"))
    assert positions["messages"] == 2
