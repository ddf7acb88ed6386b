"""The outbox projection: settings as of each event, and a rebuild equal byte for byte, which
keeps delivered notifications delivered (a replay never sends them again)."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import msgspec
from support.notifications_receiver import WebhookReceiver
from support.notifications_world import (
    ACCOUNT_ID,
    EVENT_TOPIC,
    IDENTITY_TOPIC,
    PUBLISHER,
    complain,
    deliver,
    destination,
    hard_bounce,
    open_engine,
    running_notifier,
    save_configuration_set,
    save_identity,
    send,
    settings_for,
)

from sendtrail.adapters import cli
from sendtrail.adapters.config import TopicSettings
from sendtrail.adapters.engine import EVENTS_FILE, Engine
from sendtrail.adapters.outbox_projection import OutboxProjector
from sendtrail.adapters.resources import ResourceRegistry
from sendtrail.adapters.sqlite_projections import default_projectors
from sendtrail.core import commands as cmd
from sendtrail.core import resources as res
from sendtrail.core.acceptance.requests import Destination, FormattedMessage, TemplateContent

OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:other"


def outbox(data: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(data / EVENTS_FILE)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM notification_outbox ORDER BY position, channel")
        return [dict(row) for row in rows]
    finally:
        db.close()


def replay(data: Path, *arguments: str) -> tuple[int, str]:
    """``sendtrail replay`` with the account id the engine rendered notifications with."""
    config = data / "replay.toml"
    config.write_text(f'[notifications]\naccount_id = "{ACCOUNT_ID}"\n')
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["replay", "--config", str(config), "--data", str(data), *arguments])
    return code, out.getvalue()


def test_settings_apply_as_they_were_at_each_event(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    now = engine.clock.now()
    save_identity(engine, now, bounce_topic=IDENTITY_TOPIC)
    first = send(engine, "m-1", configuration_set="ConfigSet")  # the set does not exist yet
    hard_bounce(engine, first)
    save_identity(engine, now, bounce_topic=OTHER_TOPIC, complaint_topic=OTHER_TOPIC)
    save_configuration_set(engine, now, destination(matching_event_types=("DELIVERY", "COMPLAINT")))
    second = send(engine, "m-2")
    deliver(engine, second)
    complain(engine, second)
    engine.close()
    rows = [(r["message_id"], r["channel"], r["kind"], r["target"]) for r in outbox(tmp_path)]
    assert rows == [
        ("m-1", "identity", "Bounce", IDENTITY_TOPIC),
        ("m-2", "event", "Delivery", EVENT_TOPIC),
        ("m-2", "event", "Complaint", EVENT_TOPIC),
        ("m-2", "identity", "Complaint", OTHER_TOPIC),
    ]
    first_row = outbox(tmp_path)[0]
    assert first_row["status"] == "pending"
    assert first_row["endpoint"] == f"topic:{IDENTITY_TOPIC}"
    assert first_row["origin"] == "identity example.com"
    payload = msgspec.json.decode(first_row["payload"])
    assert (
        payload["mail"]["sourceArn"] == f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/example.com"
    )


def test_a_stored_template_subject_is_the_one_in_force_at_each_event(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    now = engine.clock.now()
    save_identity(engine, now, delivery_topic=IDENTITY_TOPIC, headers_in_delivery=True)
    ResourceRegistry(engine.store).save(
        res.Template(name="Welcome", created_at=now, subject="Hello {{name}}"), at=now, actor="t"
    )
    content = msgspec.json.encode(
        FormattedMessage(
            source="sender@example.com",
            destination=Destination(to=("ann@example.org",)),
            content=TemplateContent(template_name="Welcome", template_data='{"name": "Ann"}'),
        )
    )
    engine.execute(
        cmd.RequestSend(
            message_id="m-t",
            source="sender@example.com",
            destinations=("ann@example.org",),
            operation="SendTemplatedEmail",
            content_sha256=hashlib.sha256(content).hexdigest(),
        ),
        contents=(content,),
    )
    deliver(engine, "m-t", "ann@example.org")
    [row] = outbox(tmp_path)
    assert msgspec.json.decode(row["payload"])["mail"]["commonHeaders"]["subject"] == "Hello Ann"
    engine.close()


def fill(engine: Engine) -> None:
    """Messages with every kind of row, and settings that change between their events."""
    now = engine.clock.now()
    save_identity(engine, now, bounce_topic=IDENTITY_TOPIC, headers_in_bounce=True)
    save_configuration_set(engine, now, destination())
    for index in range(12):
        message_id = send(engine, f"m-{index}")
        if index % 3 == 0:
            hard_bounce(engine, message_id)
        elif index % 3 == 1:
            deliver(engine, message_id)
            complain(engine, message_id)  # forwarded: no complaint topic
        else:
            engine.execute(cmd.RejectContent(message_id=message_id, detail="virus"))
        if index == 5:
            save_identity(engine, now, bounce_topic=OTHER_TOPIC, complaint_topic=OTHER_TOPIC)
            save_configuration_set(engine, now, destination(matching_event_types=("BOUNCE",)))


def test_replay_verify_passes_with_the_outbox_installed(tmp_path: Path) -> None:
    # A one-message cache: the live side refolds messages and resources the rebuild kept.
    projectors = [
        *(p for p in default_projectors() if not isinstance(p, OutboxProjector)),
        OutboxProjector(publisher=PUBLISHER, cache_size=1),
    ]
    engine = Engine.open(tmp_path, projectors=projectors)
    fill(engine)
    engine.close()
    assert len(outbox(tmp_path)) >= 20
    code, output = replay(tmp_path, "--verify")
    assert code == 0, output
    assert "equals the live projections" in output


def test_a_rebuild_keeps_delivered_notifications_delivered(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        settings = settings_for(
            {
                IDENTITY_TOPIC: TopicSettings(url=receiver.url("/identity"), format="raw"),
                OTHER_TOPIC: TopicSettings(url=receiver.url("/identity"), format="raw"),
                EVENT_TOPIC: TopicSettings(url=receiver.url("/events"), format="sns"),
            }
        )
        engine = open_engine(tmp_path)
        fill(engine)
        webhook_rows = sum(1 for row in outbox(tmp_path) if row["channel"] != "email")
        with running_notifier(engine, settings):
            receiver.wait_until(lambda: len(receiver.received) == webhook_rows)
        engine.close()

        code, output = replay(tmp_path, "--verify")  # delivery outcomes rebuild too
        assert code == 0, output
        code, output = replay(tmp_path)  # rebuild every projection and swap it in
        assert code == 0, output
        statuses = {row["status"] for row in outbox(tmp_path) if row["channel"] != "email"}
        assert statuses == {"delivered"}
        code, output = replay(tmp_path, "--verify")
        assert code == 0, output

        engine = open_engine(tmp_path)
        with running_notifier(engine, settings):
            time.sleep(0.5)
        engine.close()
        assert len(receiver.received) == webhook_rows  # nothing was sent again
