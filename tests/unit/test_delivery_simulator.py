"""The mailbox simulator's receiving side, and the feedback mail it sends back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from sendtrail.core.delivery.simulator import (
    FollowUp,
    auto_reply,
    bounce_dsn,
    complaint_report,
    simulate,
)

SENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORIGINAL = {
    "original_message_id": "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000",
    "envelope_sender": (
        "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000@feedback.sendtrail.localhost"
    ),
    "reporting_host": "mta.sendtrail.localhost",
    "timestamp": SENT,
}


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_given_success_then_delivered_with_the_simulator_reply() -> None:
    result = simulate("success")

    assert result.outcome.kind == "delivered"
    assert result.outcome.smtp_response == "250 2.6.0 Message received"
    assert result.follow_up is None and result.attempted


def test_given_bounce_then_permanent_general_550_5_1_1_as_ses_reports_it() -> None:
    outcome = simulate("bounce").outcome

    assert outcome.kind == "hard" and outcome.action == "failed"
    assert (outcome.bounce_type, outcome.bounce_subtype) == ("Permanent", "General")
    assert (outcome.status, outcome.diagnostic_code) == ("5.1.1", "smtp; 550 5.1.1 user unknown")


@pytest.mark.parametrize(
    ("scenario", "follow_up"), [("ooto", FollowUp.AUTO_REPLY), ("complaint", FollowUp.COMPLAINT)]
)
def test_given_ooto_or_complaint_then_delivered_then_feedback(
    scenario: str, follow_up: FollowUp
) -> None:
    result = simulate(scenario)

    assert result.outcome.smtp_response == "250 2.6.0 Message received"
    assert result.follow_up == follow_up


def test_given_suppressionlist_then_suppressed_bounce_without_an_attempt() -> None:
    result = simulate("suppressionlist")

    assert not result.attempted
    outcome = result.outcome
    assert (outcome.bounce_type, outcome.bounce_subtype) == ("Permanent", "Suppressed")
    assert outcome.reporting_mta == "dns; amazonses.com"
    assert (outcome.status, outcome.action) == ("5.1.1", "failed")
    assert outcome.diagnostic_code == (
        "Amazon SES has suppressed sending to this address because it has a recent history of "
        "bouncing as an invalid address. For more information about how to remove an address "
        "from the suppression list, see the Amazon SES Developer Guide: "
        "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html "
    )


def test_unknown_scenarios_are_refused() -> None:
    with pytest.raises(ValueError):
        simulate("hi")


def test_bounce_dsn_is_an_rfc3464_report_like_ses_simulator() -> None:
    raw = bounce_dsn(recipient="bounce@simulator.amazonses.com", **ORIGINAL)
    message = parse(raw)

    assert message["To"] == ORIGINAL["envelope_sender"]
    assert message["From"] == "MAILER-DAEMON@mta.sendtrail.localhost"
    assert message["Subject"] == "Delivery Status Notification (Failure)"
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    human, status, headers = message.get_payload()
    assert "bounce@simulator.amazonses.com" in human.get_content()
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"] == "dsn; mta.sendtrail.localhost"
    assert per_recipient["Final-Recipient"] == "rfc822; bounce@simulator.amazonses.com"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"
    assert per_recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 user unknown"
    assert headers.get_content_type() == "text/rfc822-headers"
    assert f"<{ORIGINAL['original_message_id']}>" in headers.get_content()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_complaint_report_is_an_rfc5965_abuse_report_from_the_simulator() -> None:
    message = parse(complaint_report(recipient="complaint@simulator.amazonses.com", **ORIGINAL))

    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "feedback-report"
    _, report, headers = message.get_payload()
    assert report.get_content_type() == "message/feedback-report"
    [fields] = report.get_payload()
    assert fields["Feedback-Type"] == "abuse"
    assert fields["User-Agent"] == "Amazon SES Mailbox Simulator"
    assert fields["Version"] == "1"
    assert fields["Original-Rcpt-To"] == "<complaint@simulator.amazonses.com>"
    assert fields["Original-Mail-From"] == f"<{ORIGINAL['envelope_sender']}>"
    assert fields["Arrival-Date"] == "Sun, 01 Mar 2026 12:00:00 +0000"
    assert ORIGINAL["original_message_id"] in headers.get_content()


def test_auto_reply_is_an_rfc3834_response_to_the_original() -> None:
    message = parse(auto_reply(recipient="ooto@simulator.amazonses.com", **ORIGINAL))

    assert message["Auto-Submitted"] == "auto-replied"
    assert message["From"] == "ooto@simulator.amazonses.com"
    assert message["To"] == ORIGINAL["envelope_sender"]
    assert message["In-Reply-To"] == f"<{ORIGINAL['original_message_id']}>"
    assert message["References"] == f"<{ORIGINAL['original_message_id']}>"
    assert message["Date"] == "Sun, 01 Mar 2026 12:00:00 +0000"
    assert message.get_content_type() == "text/plain"


@pytest.mark.parametrize("build", [bounce_dsn, complaint_report, auto_reply])
def test_feedback_mail_is_a_pure_function_of_its_inputs(build: Callable[..., bytes]) -> None:
    first = build(recipient="x@simulator.amazonses.com", **ORIGINAL)
    again = build(recipient="x@simulator.amazonses.com", **ORIGINAL)
    other = build(recipient="y@simulator.amazonses.com", **ORIGINAL)

    assert first == again
    assert parse(first)["Message-ID"] != parse(other)["Message-ID"]
