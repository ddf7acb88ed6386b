"""Standard Webhooks signatures, the backoff schedule and the SNS envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sendtrail.adapters.notifier.backoff import retry_delay
from sendtrail.adapters.notifier.envelope import EVENT_SUBJECT, sns_envelope
from sendtrail.adapters.notifier.outbox import OutboxRow
from sendtrail.adapters.notifier.signing import (
    sns_signature,
    verify_webhook,
    webhook_headers,
    webhook_signature,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_the_standard_webhooks_test_vector() -> None:
    signature = webhook_signature(
        SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_receiver_accepts_the_signed_request_and_refuses_tampering_and_replays() -> None:
    body = b'{"eventType":"Send"}'
    headers = webhook_headers("id-1", 1_700_000_000, body, SECRET)
    assert verify_webhook(SECRET, headers, body, now=1_700_000_010)
    assert not verify_webhook(SECRET, headers, body + b" ", now=1_700_000_010)
    assert not verify_webhook(SECRET, headers, body, now=1_700_001_000)
    assert not verify_webhook("whsec_" + "A" * 32, headers, body, now=1_700_000_010)


def test_a_plain_secret_is_its_own_key_and_no_secret_means_no_signature() -> None:
    plain = webhook_headers("id", 1, b"x", "not-base64!")
    assert verify_webhook("not-base64!", plain, b"x", now=1)
    assert webhook_headers("id", 1, b"x", None) == {"webhook-id": "id", "webhook-timestamp": "1"}


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    assert [retry_delay(n, base=2, cap=60, jitter=0.0) for n in range(1, 7)] == [
        1.0, 2.0, 4.0, 8.0, 16.0, 30.0,
    ]  # fmt: skip
    assert retry_delay(3, base=2, cap=60, jitter=0.999) < 8.0
    assert retry_delay(3, base=2, cap=60, jitter=0.5) == 6.0


def row(channel: str) -> OutboxRow:
    return OutboxRow(
        notification_id="4f6c3a52-7c0e-5f5e-9c1b-3b1f0b2f0c11",
        position=7,
        message_id="m",
        event_type="RecipientBounced",
        channel=channel,
        kind="Bounce",
        endpoint="topic:arn:aws:sns:us-east-1:000000000000:t",
        target="arn:aws:sns:us-east-1:000000000000:t",
        origin="identity example.com",
        payload=b'{"notificationType":"Bounce"}',
        created_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC).isoformat(),
        status="pending",
        attempts=0,
        next_attempt_at="",
        last_error=None,
        delivered_at=None,
        updated_at="",
        version=0,
    )


def test_the_sns_envelope_carries_the_record_as_a_string() -> None:
    body, headers = sns_envelope(
        row("identity"), url="http://127.0.0.1/h", secret=SECRET, base_url="https://sns.test"
    )
    envelope = json.loads(body)
    assert list(envelope) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertURL", "UnsubscribeURL",
    ]  # fmt: skip
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == "4f6c3a52-7c0e-5f5e-9c1b-3b1f0b2f0c11"
    assert envelope["Subject"] is None
    assert json.loads(envelope["Message"]) == {"notificationType": "Bounce"}
    assert envelope["Timestamp"] == "2026-01-05T09:30:00.000Z"
    assert envelope["Signature"] == sns_signature(SECRET, envelope)
    assert envelope["UnsubscribeURL"].startswith(
        "https://sns.test/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:"
    )
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-topic-arn"] == "arn:aws:sns:us-east-1:000000000000:t"
    event_body, _ = sns_envelope(row("event"), url="u", secret=None, base_url="https://sns.test")
    assert json.loads(event_body)["Subject"] == EVENT_SUBJECT
