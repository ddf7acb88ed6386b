"""The forwarded feedback mail: a DSN for bounces, an ARF report for complaints, a notice for
auto-replies; standard enough that any feedback parser (ours included) reads it back."""

from __future__ import annotations

import email
import email.message
import email.policy
from datetime import UTC, datetime

from sendtrail.core import events as ev
from sendtrail.core.acceptance.requests import RawContent
from sendtrail.core.feedback.analyze import classify
from sendtrail.core.notifications import Publisher, identity_notification, mail_headers
from sendtrail.core.notifications.forwarding import forwarded_feedback

T = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
RAW = b"From: Sender <sender@example.com>\r\nTo: r@example.org\r\nSubject: Offer\r\n\r\nx\r\n"
REQUEST = ev.SendRequested(
    at=T,
    message_id="0100019b8d7df1c0-b3fcfc06-dffb-40f0-afdd-25f25d75e33d-000000",
    source="Sender <sender@example.com>",
    destinations=("r@example.org",),
    operation="SendRawEmail",
    source_ip="192.0.2.7",
)
HEADERS = mail_headers(RawContent(data=RAW), message_id=REQUEST.message_id)


def forward(event: ev.Event, kind: str) -> bytes:
    record = identity_notification(
        kind,
        event,
        REQUEST,
        publisher=Publisher(),
        identity_name="example.com",
        headers=HEADERS,
    )
    return forwarded_feedback(
        record,
        event_type=type(event).__name__,
        to="returns@example.com",
        from_domain="feedback.sendtrail.test",
        notification_id="5b0f7a3e-0000-5000-8000-000000000001",
        date=T,
    )


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


BOUNCE = ev.RecipientBounced(
    at=T,
    recipient="r@example.org",
    bounce_type="Permanent",
    bounce_subtype="General",
    status="5.1.1",
    diagnostic_code="smtp; 550 5.1.1 user unknown",
    remote_mta_ip="127.0.2.0",
    reporting_mta="dsn; mta.example.org",
    feedback_id="f",
)


def test_a_forwarded_bounce_is_a_delivery_status_notification_from_mailer_daemon() -> None:
    data = forward(BOUNCE, "Bounce")
    message = parse(data)
    assert message["From"] == "MAILER-DAEMON@feedback.sendtrail.test"
    assert message["To"] == "returns@example.com"
    assert message["Subject"] == "Delivery Status Notification (Failure)"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    status = data.decode()
    for line in (
        "Reporting-MTA: dsn; mta.example.org",
        f"Original-Envelope-Id: {REQUEST.message_id}",
        "Final-Recipient: rfc822; r@example.org",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown",
        "Subject: Offer",  # the original headers
    ):
        assert line in status
    report = classify(data)
    assert report.kind == "bounce"
    assert [(r.recipient, r.status, r.bounce_type) for r in report.recipients] == [
        ("r@example.org", "5.1.1", "Permanent")
    ]


def test_a_forwarded_complaint_is_an_abuse_report_from_complaints() -> None:
    complaint = ev.ComplaintReported(
        at=T, recipient="r@example.org", feedback_id="f", feedback_type="abuse", user_agent="FBL"
    )
    data = forward(complaint, "Complaint")
    message = parse(data)
    assert message["From"] == "complaints@feedback.sendtrail.test"
    assert message["Subject"] == "complaint about message from 192.0.2.7"
    assert message.get_param("report-type") == "feedback-report"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "message/feedback-report", "text/rfc822-headers"]
    text = data.decode()
    for line in (
        "Feedback-Type: abuse",
        "User-Agent: FBL",
        "Version: 1",
        "Original-Mail-From: <sender@example.com>",
        "Original-Rcpt-To: <r@example.org>",
        "Source-IP: 192.0.2.7",
    ):
        assert line in text
    report = classify(data)
    assert report.kind == "complaint"
    assert report.feedback_type == "abuse"


def test_a_forwarded_auto_reply_is_a_notice() -> None:
    reply = ev.AutoReplyReported(at=T, recipient="r@example.org", feedback_id="f")
    message = parse(forward(reply, "Bounce"))
    assert message["Subject"] == "Automatic reply from r@example.org"
    assert message.get_content_type() == "text/plain"
    assert REQUEST.message_id in message.get_content()


def test_the_same_notification_gives_the_same_bytes() -> None:
    assert forward(BOUNCE, "Bounce") == forward(BOUNCE, "Bounce")
