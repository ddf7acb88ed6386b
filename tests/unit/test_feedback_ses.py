"""Amazon SES event notifications received by mail (raw or wrapped by SNS)."""

from __future__ import annotations

import json

from sendtrail.core.feedback import classify


def _mail(body: str) -> bytes:
    return (
        "From: SES <no-reply@sns.example.com>\nTo: ops@sender.example\n"
        "Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n\n" + body
    ).encode()


def _mail_part(message_id: str = "0101abc") -> dict:
    return {
        "messageId": message_id,
        "destination": ["r@example.net"],
        "headers": [{"name": "Message-ID", "value": "<ours-1@sender.example>"}],
    }


def test_sns_wrapped_bounce_keeps_ses_type_and_subtype() -> None:
    event = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "Suppressed",
            "reportingMTA": "dns; a1.smtp-out.example.com",
            "bouncedRecipients": [
                {
                    "emailAddress": "r@example.net",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
        "mail": _mail_part(),
    }
    envelope = {"Type": "Notification", "Message": json.dumps(event)}
    report = classify(_mail(json.dumps(envelope, indent=2)))
    assert report.kind == "bounce"
    (verdict,) = report.recipients
    assert (verdict.recipient, verdict.status, verdict.bounce_type, verdict.bounce_subtype) == (
        "r@example.net",
        "5.1.1",
        "Permanent",
        "Suppressed",
    )
    assert report.reporting_mta == "a1.smtp-out.example.com"
    assert report.original_message_id == "<ours-1@sender.example>"
    assert report.original_recipients == ("r@example.net",)


def test_raw_delivery_event_followed_by_a_footer_is_delivered() -> None:
    event = {
        "notificationType": "Delivery",
        "mail": _mail_part(),
        "delivery": {"recipients": ["r@example.net"], "smtpResponse": "250 2.6.0 Message received"},
    }
    report = classify(_mail(json.dumps(event) + "\n\n--\nTo unsubscribe, click here.\n"))
    assert report.kind == "delivered"
    assert [(v.recipient, v.action, v.status) for v in report.recipients] == [
        ("r@example.net", "delivered", "2.6.0")
    ]


def test_complaint_event() -> None:
    event = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "r@example.net"}],
            "complaintFeedbackType": "abuse",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
            "arrivalDate": "2026-01-05T09:30:00.000Z",
        },
        "mail": _mail_part(),
    }
    report = classify(_mail(json.dumps(event)))
    assert (report.kind, report.feedback_type, report.user_agent) == (
        "complaint",
        "abuse",
        "Yahoo!-Mail-Feedback/2.0",
    )
    assert report.arrival_date == "2026-01-05T09:30:00.000Z"


def test_folded_line_inside_a_json_string_does_not_break_parsing() -> None:
    body = (
        '{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":'
        '"MailboxFull","bouncedRecipients":[{"emailAddress":"r@example.net"}]},'
        '"mail":{"headers":[{"name":"Subject","value":"Nya!\n aan"}]}}'
    )
    (verdict,) = classify(_mail(body)).recipients
    assert (verdict.bounce_type, verdict.bounce_subtype) == ("Transient", "MailboxFull")
