"""``notifications list/retry`` and ``feedback list`` against a PostgreSQL store: they read
(and ``retry`` appends through) the schema ``[store] url`` names, not ``DATA/events.db``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.operator_postgres import drive, in_schema, sendtrail, write_config
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.engine import Engine
from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.notifications import stream_id

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:identity"


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test_operator", create=True) as name:
        yield name


@pytest.fixture
def engine(schema: str, tmp_path: Path) -> Iterator[Engine]:
    engine = Engine.open(tmp_path / "data", store_url=url_in_schema(schema), durable=False)
    try:
        yield engine
    finally:
        engine.close()


def notified(engine: Engine) -> None:
    """An identity whose bounces and deliveries are notified, and four messages through it:
    four notifications in the outbox."""
    identity = res.Identity(
        name="example.com",
        created_at=AT,
        identity_type=res.DOMAIN,
        trusted=True,
        bounce_topic=TOPIC,
        delivery_topic=TOPIC,
    )
    engine.store.append(
        res.stream_id(res.IDENTITY, "example.com"),
        0,
        [ev.ResourceSaved(at=AT, actor="test", resource=identity)],
    )
    for index in range(4):
        drive(engine, index)


def test_notifications_are_listed_and_retried_through_postgres(
    engine: Engine, schema: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, schema)
    notified(engine)
    ids = [row[0] for row in in_schema(schema, "SELECT notification_id FROM notification_outbox")]
    assert len(ids) == 4
    parked = ids[1]
    engine.store.append(
        stream_id(parked),
        0,
        [ev.NotificationParked(at=AT, notification_id=parked, attempts=5, error="HTTP 500")],
    )

    listed = sendtrail("notifications", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1] == "4 notifications"
    failed = sendtrail("notifications", "list", "--failed", "--config", str(config))
    [line, summary] = failed.stdout.splitlines()
    assert line.startswith(f"{parked}  parked  attempts=5") and "error=HTTP 500" in line
    assert summary == "1 failed notifications"

    retried = sendtrail("notifications", "retry", "--all-failed", "--config", str(config))

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"{parked}: pending again" in retried.stdout
    assert "1 notifications retried" in retried.stdout
    appended = engine.store.read_stream(stream_id(parked))
    assert [type(stored.event).__name__ for stored in appended] == [
        "NotificationParked",
        "NotificationRetried",
    ]
    assert in_schema(
        schema,
        "SELECT status, attempts, version FROM notification_outbox WHERE notification_id = %s",
        (parked,),
    ) == [("pending", 0, 2)]
    again = sendtrail("notifications", "list", "--failed", "--config", str(config))
    assert again.stdout == "0 failed notifications\n"
    unknown = sendtrail("notifications", "retry", "no-such-id", "--config", str(config))
    assert unknown.returncode == 1 and "unknown notification no-such-id" in unknown.stdout
    # The append kept every projection at the log's head.
    verified = sendtrail("replay", "--verify", "--config", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not (tmp_path / "data" / "events.db").exists()


def test_notifications_list_on_a_store_without_an_outbox(schema: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, schema)
    result = sendtrail("notifications", "list", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 notifications\n"


def feedback(engine: Engine, index: int, message_id: str | None) -> str:
    sha = hashlib.sha256(f"feedback {index}".encode()).hexdigest()
    engine.store.append(
        f"feedback/{sha}",
        0,
        [
            ev.FeedbackReceived(
                at=AT.replace(minute=index),
                content_sha256=sha,
                kind="bounce" if message_id else "unknown",
                envelope_recipients=("bounces@example.com",),
                message_id=message_id,
                recipients=(f"r{index}@example.net",),
                reason=None if message_id else "no message matches",
            )
        ],
    )
    return sha


def test_feedback_is_listed_from_postgres(engine: Engine, schema: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, schema)
    message_id = drive(engine, 1)
    tied = feedback(engine, 1, message_id)
    untied = feedback(engine, 2, None)

    everything = sendtrail("feedback", "list", "--config", str(config))
    unmatched = sendtrail("feedback", "list", "--unmatched", "--config", str(config))

    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert len(lines) == 2 and "2 feedback message(s)" in everything.stderr
    assert untied[:12] in lines[0] and "unmatched: no message matches" in lines[0]  # newest
    assert tied[:12] in lines[1] and lines[1].endswith(message_id)
    assert unmatched.stdout.splitlines() == [lines[0]]
    assert not (tmp_path / "data" / "events.db").exists()
