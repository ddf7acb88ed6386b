"""Notifications over real HTTP on loopback: every type as SES sends it, in both formats,
signed; retries, parking, the CLI, and endpoints that do not hold each other up."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support.notifications_receiver import Behaviour, Received, WebhookReceiver
from support.notifications_world import (
    ACCOUNT_ID,
    EVENT_TOPIC,
    IDENTITY_TOPIC,
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

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import TopicSettings
from sendtrail.adapters.notifications_cli import list_notifications, retry_notifications
from sendtrail.adapters.notifier.envelope import EVENT_SUBJECT
from sendtrail.adapters.notifier.signing import verify_webhook
from sendtrail.core import commands as cmd
from sendtrail.core.delivery.suppression import ACCOUNT_SUPPRESSED_DIAGNOSTIC

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PLAIN_SECRET = "a plain shared secret"
TS = "2026-01-05T09:30:00.000Z"  # the engine's clock stands still: every event happens now
SOURCE = "Sender Name <sender@example.com>"
RECIPIENT = "recipient@example.com"


def ids(name: str) -> str:
    """A message id in SES's shape, one per scenario."""
    return f"0100019b8d7df1c0-{name:0>8}-0000-4000-8000-000000000000-000000"


# --- what SES would send (reference 3.6 and 4, with this scenario's values) ------------------

HEADERS = [
    {"name": "From", "value": SOURCE},
    {"name": "To", "value": RECIPIENT},
    {"name": "Subject", "value": "Message sent from Amazon SES"},
    {"name": "MIME-Version", "value": "1.0"},
    {"name": "Content-Type", "value": "text/plain; charset=UTF-8"},
]


def common_headers(message_id: str) -> dict[str, Any]:
    return {
        "from": [SOURCE],
        "to": [RECIPIENT],
        "messageId": message_id,
        "subject": "Message sent from Amazon SES",
    }


def identity_mail(message_id: str, *, headers: bool) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "timestamp": TS,
        "source": SOURCE,
        "sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/example.com",
        "sourceIp": "192.0.2.0",
        "sendingAccountId": ACCOUNT_ID,
        "callerIdentity": "ses_user",
        "messageId": message_id,
        "destination": [RECIPIENT],
    }
    if headers:
        mail.update(
            headersTruncated=False, headers=HEADERS, commonHeaders=common_headers(message_id)
        )
    return mail


def event_mail(message_id: str, *, headers: bool = True) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "timestamp": TS,
        "source": SOURCE,
        "sourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/example.com",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": [RECIPIENT],
        "headersTruncated": False,
    }
    if headers:
        mail.update(headers=HEADERS, commonHeaders=common_headers(message_id))
    mail["tags"] = {
        "ses:configuration-set": ["ConfigSet"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["ses_user"],
        "ses:operation": ["SendRawEmail"],
    }
    return mail


def bounce_object(message_id: str, *, identity: bool) -> dict[str, Any]:
    bounce: dict[str, Any] = {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": TS,
        "feedbackId": f"{message_id[:-6]}bounce",
    }
    if identity:
        bounce["remoteMtaIp"] = "127.0.2.0"
    bounce["reportingMTA"] = "dsn; mta.example.com"
    return bounce


def expiry_object(message_id: str, *, identity: bool) -> dict[str, Any]:
    return {
        "bounceType": "Transient",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "action": "failed",
                "status": "4.4.7",
                "diagnosticCode": "smtp; 550 4.4.7 Message expired: unable to deliver in 840 "
                "minutes.<421 4.4.1 Unable to connect to remote host>",
            }
        ],
        "timestamp": TS,
        "feedbackId": f"{message_id[:-6]}expiry",
        "reportingMTA": "dns; mta.sendtrail.test",
    }


def suppression_object(message_id: str) -> dict[str, Any]:
    return {
        "bounceType": "Permanent",
        "bounceSubType": "OnAccountSuppressionList",
        "bouncedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": ACCOUNT_SUPPRESSED_DIAGNOSTIC,
            }
        ],
        "timestamp": TS,
        "feedbackId": f"{message_id[:-6]}suppressed",
        "reportingMTA": "dns; amazonses.com",
    }


def complaint_object(message_id: str, *, publishing: bool) -> dict[str, Any]:
    complaint: dict[str, Any] = {
        "complainedRecipients": [{"emailAddress": RECIPIENT}],
        "timestamp": TS,
        "feedbackId": f"{message_id[:-6]}complaint",
    }
    if publishing:
        complaint["complaintSubType"] = None
    complaint.update(
        userAgent="Mozilla/5.0 (...)",
        complaintFeedbackType="abuse",
        arrivalDate="2017-08-05T00:41:02.669Z",
    )
    return complaint


def delivery_object(*, identity: bool) -> dict[str, Any]:
    return {
        "timestamp": TS,
        "processingTimeMillis": 11893,
        "recipients": [RECIPIENT],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
        "remoteMtaIp": "127.0.2.0",
    }


def identity_record(kind: str, message_id: str, body: dict[str, Any], headers: bool) -> Any:
    mail = identity_mail(message_id, headers=headers)
    if kind == "Delivery":
        return {"notificationType": kind, "mail": mail, "delivery": body}
    return {"notificationType": kind, kind.lower(): body, "mail": mail}


def event_record(kind: str, message_id: str, key: str, body: Any, headers: bool = True) -> Any:
    return {"eventType": kind, "mail": event_mail(message_id, headers=headers), key: body}


# --- the scenario -----------------------------------------------------------------------


def drive_every_outcome(engine: Any) -> dict[str, list[Any]]:
    """Seven messages, one per outcome; returns the records each topic should get."""
    delivered, bounced, complained = ids("d"), ids("b"), ids("c")
    delayed, suppressed, rejected, unrendered = ids("e"), ids("s"), ids("r"), ids("f")
    sends = (delivered, bounced, complained, delayed, suppressed, rejected, unrendered)
    for message_id in sends:
        send(engine, message_id, source=SOURCE)
    deliver(engine, delivered)
    hard_bounce(engine, bounced)
    deliver(engine, complained)
    complain(engine, complained)
    engine.execute(cmd.StartAttempt(message_id=delayed, recipients=(RECIPIENT,)))
    engine.execute(
        cmd.ReportSoftFailure(
            message_id=delayed,
            recipient=RECIPIENT,
            status="4.4.1",
            diagnostic_code="smtp; 421 4.4.1 Unable to connect to remote host",
            delay_type="TransientCommunicationFailure",
            jitter=0.0,
        )
    )
    engine.execute(
        cmd.ExpireDelivery(
            message_id=delayed,
            recipient=RECIPIENT,
            feedback_id=f"{delayed[:-6]}expiry",
            max_delivery_seconds=50_400,
            reporting_mta="dns; mta.sendtrail.test",
        )
    )
    engine.execute(
        cmd.SuppressRecipient(
            message_id=suppressed,
            recipient=RECIPIENT,
            reason="BOUNCE",
            feedback_id=f"{suppressed[:-6]}suppressed",
        )
    )
    engine.execute(cmd.RejectContent(message_id=rejected, detail="Eicar-Test-Signature"))
    engine.execute(
        cmd.FailRendering(
            message_id=unrendered,
            template_name="MyTemplate",
            error_message="Attribute 'attributeName' is not present in the rendering data.",
        )
    )
    delay = {
        "timestamp": TS,
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2026-01-05T23:30:00.000Z",
        "delayedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
        ],
    }
    failure = {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    }
    complaint = complaint_object(complained, publishing=True)
    identity_complaint = complaint_object(complained, publishing=False)
    published = [
        *(event_record("Send", m, "send", {}) for m in sends),
        event_record("Delivery", delivered, "delivery", delivery_object(identity=False)),
        event_record("Bounce", bounced, "bounce", bounce_object(bounced, identity=False)),
        event_record("Delivery", complained, "delivery", delivery_object(identity=False)),
        event_record("Complaint", complained, "complaint", complaint),
        event_record("DeliveryDelay", delayed, "deliveryDelay", delay, headers=False),
        event_record("Bounce", delayed, "bounce", expiry_object(delayed, identity=False)),
        event_record("Bounce", suppressed, "bounce", suppression_object(suppressed)),
        event_record("Reject", rejected, "reject", {"reason": "Bad content"}),
        event_record("Rendering Failure", unrendered, "failure", failure, headers=False),
    ]  # fmt: skip
    identity = [
        identity_record("Delivery", delivered, delivery_object(identity=True), False),
        identity_record("Bounce", bounced, bounce_object(bounced, identity=True), True),
        identity_record("Delivery", complained, delivery_object(identity=True), False),
        identity_record("Complaint", complained, identity_complaint, False),
        identity_record("Bounce", delayed, expiry_object(delayed, identity=True), True),
        identity_record("Bounce", suppressed, suppression_object(suppressed), True),
    ]  # fmt: skip
    return {"/events": published, "/identity": identity}


def open_world(tmp_path: Path) -> Any:
    engine = open_engine(tmp_path, ManualClock(datetime.fromisoformat(TS)))
    at = engine.clock.now()
    save_identity(
        engine,
        at,
        bounce_topic=IDENTITY_TOPIC,
        complaint_topic=IDENTITY_TOPIC,
        delivery_topic=IDENTITY_TOPIC,
        headers_in_bounce=True,
    )
    save_configuration_set(engine, at, destination())
    return engine


def unwrap(request: Received, topic_format: str, arn: str, subject: str | None) -> Any:
    """The SES record a request carries, checking its format's envelope on the way."""
    if topic_format == "raw":
        assert request.headers["content-type"] == "application/json"
        return json.loads(request.body)
    envelope = json.loads(request.body)
    assert request.headers["content-type"] == "text/plain; charset=UTF-8"
    assert request.headers["x-amz-sns-message-type"] == "Notification"
    assert request.headers["x-amz-sns-message-id"] == request.webhook_id
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == request.webhook_id
    assert envelope["TopicArn"] == arn
    assert envelope["Subject"] == subject
    assert envelope["Timestamp"] == TS
    assert envelope["SignatureVersion"] == "1"
    assert set(envelope) >= {"Signature", "SigningCertURL", "UnsubscribeURL"}
    return json.loads(envelope["Message"])


@pytest.mark.parametrize(("identity_format", "event_format"), [("raw", "sns"), ("sns", "raw")])
def test_every_outcome_arrives_as_ses_sends_it_signed(
    tmp_path: Path, identity_format: str, event_format: str
) -> None:
    with WebhookReceiver() as receiver:
        settings = settings_for(
            {
                IDENTITY_TOPIC: TopicSettings(
                    url=receiver.url("/identity"), format=identity_format, secret=SECRET
                ),
                EVENT_TOPIC: TopicSettings(
                    url=receiver.url("/events"), format=event_format, secret=PLAIN_SECRET
                ),
            }
        )
        engine = open_world(tmp_path)
        try:
            expected = drive_every_outcome(engine)
            with running_notifier(engine, settings):
                receiver.wait_until(
                    lambda: (
                        len(receiver.at("/events")) == len(expected["/events"])
                        and len(receiver.at("/identity")) == len(expected["/identity"])
                    )
                )
                time.sleep(0.2)  # nothing more comes
        finally:
            engine.close()
    for path, topic_format, secret, arn in (
        ("/identity", identity_format, SECRET, IDENTITY_TOPIC),
        ("/events", event_format, PLAIN_SECRET, EVENT_TOPIC),
    ):
        arrived = receiver.all_at(path)
        assert len(arrived) == len(expected[path])  # exactly once each
        assert len({request.webhook_id for request in arrived}) == len(arrived)
        records = []
        subject = None if path == "/identity" else EVENT_SUBJECT
        for request in arrived:
            now = int(time.time())
            assert verify_webhook(secret, request.headers, request.body, now=now)
            assert abs(int(request.headers["webhook-timestamp"]) - now) < 30
            records.append(unwrap(request, topic_format, arn, subject))

        # Field for field, SES's key order included. Requests to one endpoint run a few at a
        # time, so they may arrive in any order: compare them sorted.
        def canonical(record: Any) -> str:
            return json.dumps(record, sort_keys=True)

        got = sorted(records, key=canonical)
        want = sorted(expected[path], key=canonical)
        assert got == want
        for got_record, want_record in zip(got, want, strict=True):
            assert json.dumps(got_record) == json.dumps(want_record)


# --- retries, parking and isolation -----------------------------------------------------


def single_topic_world(tmp_path: Path, receiver: WebhookReceiver, path: str, **options: Any) -> Any:
    settings = settings_for(
        {IDENTITY_TOPIC: TopicSettings(url=receiver.url(path), format="raw", secret=SECRET)},
        **options,
    )
    engine = open_engine(tmp_path)
    save_identity(engine, engine.clock.now(), delivery_topic=IDENTITY_TOPIC)
    return engine, settings


def test_a_failing_endpoint_gets_the_notification_once_it_recovers(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        receiver.behaviours["/flaky"] = Behaviour(fail_first=2)
        engine, settings = single_topic_world(tmp_path, receiver, "/flaky")
        try:
            message_id = send(engine, ids("flaky"), configuration_set=None)
            deliver(engine, message_id)
            with running_notifier(engine, settings):
                receiver.wait_until(lambda: len(receiver.at("/flaky")) == 1)
                time.sleep(0.3)
            assert [r.status for r in receiver.all_at("/flaky")] == [500, 500, 200]
            assert len({r.webhook_id for r in receiver.all_at("/flaky")}) == 1  # one id
            stream = [
                type(stored.event).__name__
                for stored in engine.store.read_stream(
                    f"notification/{receiver.at('/flaky')[0].webhook_id}"
                )
            ]
            assert stream == [
                "NotificationAttemptFailed",
                "NotificationAttemptFailed",
                "NotificationDelivered",
            ]
        finally:
            engine.close()


def test_a_dead_endpoint_parks_is_listed_and_is_retried(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        receiver.behaviours["/dead"] = Behaviour(always_fail=True)
        engine, settings = single_topic_world(tmp_path, receiver, "/dead", max_attempts=3)
        try:
            deliver(engine, send(engine, ids("dead"), configuration_set=None))
            with running_notifier(engine, settings):
                receiver.wait_until(lambda: len(receiver.all_at("/dead")) == 3)
                time.sleep(0.5)  # parked: no fourth attempt
                assert len(receiver.all_at("/dead")) == 3
        finally:
            engine.close()

        out = io.StringIO()
        assert list_notifications(tmp_path, True, out) == 0
        [line, summary] = out.getvalue().splitlines()
        notification_id = line.split()[0]
        assert "parked" in line and "attempts=3" in line and "error=HTTP 500" in line
        assert summary == "1 failed notifications"

        out = io.StringIO()
        assert retry_notifications(tmp_path, [], True, out) == 0
        assert f"{notification_id}: pending again" in out.getvalue()
        out = io.StringIO()
        list_notifications(tmp_path, True, out)
        assert out.getvalue() == "0 failed notifications\n"
        assert retry_notifications(tmp_path, ["no-such-id"], False, io.StringIO()) == 1

        receiver.behaviours["/dead"] = Behaviour()  # the endpoint comes back
        engine, settings = single_topic_world(tmp_path, receiver, "/dead")
        try:
            with running_notifier(engine, settings):
                receiver.wait_until(lambda: len(receiver.at("/dead")) == 1)
        finally:
            engine.close()
        out = io.StringIO()
        list_notifications(tmp_path, False, out)
        assert f"{notification_id}  delivered" in out.getvalue()


def test_a_slow_endpoint_does_not_delay_another(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        receiver.behaviours["/slow"] = Behaviour(delay=3.0)
        settings = settings_for(
            {
                IDENTITY_TOPIC: TopicSettings(url=receiver.url("/slow"), format="raw"),
                EVENT_TOPIC: TopicSettings(url=receiver.url("/fast"), format="raw"),
            },
            concurrency_per_endpoint=2,
        )
        engine = open_engine(tmp_path)
        save_identity(engine, engine.clock.now(), delivery_topic=IDENTITY_TOPIC)
        save_configuration_set(engine, engine.clock.now(), destination())
        try:
            with running_notifier(engine, settings):
                started = time.monotonic()
                for index in range(6):  # 6 deliveries to the slow one, 12 events to the fast
                    deliver(engine, send(engine, ids(f"slow{index}")))
                receiver.wait_until(lambda: len(receiver.at("/fast")) == 12, timeout=5)
                fast_done = time.monotonic() - started
                assert len(receiver.at("/slow")) == 0  # still busy with its first two
                assert fast_done < 2.0
        finally:
            engine.close()
