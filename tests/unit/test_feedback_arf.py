"""Complaints: RFC 5965 feedback reports and complaints sent without an ARF part."""

from __future__ import annotations

import pytest

from sendtrail.core.feedback import classify


def _arf(fields: str, enclosed_type: str = "message/rfc822") -> bytes:
    return (
        "From: Feedback Loop <fbl@isp.example.com>\n"
        "To: abuse@sender.example\n"
        "Subject: FW: hello\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\n\n'
        "--A\nContent-Type: text/plain\n\nThis is an abuse report.\n"
        "--A\nContent-Type: message/feedback-report\n\n"
        f"{fields}\n"
        f"--A\nContent-Type: {enclosed_type}\n\n"
        "Message-ID: <sent-42@sender.example>\n"
        "References: <a@sender.example> <b@sender.example>\n"
        "From: news@sender.example\nTo: reader@isp.example.com\nSubject: hello\n\nbody\n"
        "--A--\n"
    ).encode()


def test_abuse_report_fields_and_original_message() -> None:
    report = classify(
        _arf(
            "Feedback-Type: abuse\nUser-Agent: SomeFBL/1.0\nVersion: 1\n"
            "Original-Mail-From: <bounce@sender.example>\n"
            "Original-Rcpt-To: <reader@isp.example.com>\n"
            "Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000\n"
            "Reporting-MTA: dns; mx.isp.example.com\n"
        )
    )
    assert report.kind == "complaint"
    assert report.feedback_type == "abuse"
    assert report.user_agent == "SomeFBL/1.0"
    assert report.arrival_date == "Thu, 8 Mar 2026 14:00:00 +0000"
    assert [v.recipient for v in report.recipients] == ["reader@isp.example.com"]
    assert report.recipients[0].bounce_type is None
    assert report.original_message_id == "<sent-42@sender.example>"
    assert report.original_references == ("<a@sender.example>", "<b@sender.example>")
    assert report.reporting_domain == "isp.example.com"
    assert report.reporting_mta == "mx.isp.example.com"


@pytest.mark.parametrize(
    "feedback_type", ["abuse", "auth-failure", "fraud", "not-spam", "other", "virus", "opt-out"]
)
def test_feedback_type_is_kept_as_given(feedback_type: str) -> None:
    report = classify(_arf(f"Feedback-Type: {feedback_type}\nUser-Agent: x/1\nVersion: 1\n"))
    assert (report.kind, report.feedback_type) == ("complaint", feedback_type)


def test_redacted_report_falls_back_to_quoted_headers_for_recipients() -> None:
    report = classify(
        _arf("Feedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n", "text/rfc822-headers")
    )
    assert [v.recipient for v in report.recipients] == ["reader@isp.example.com"]
    assert report.original_recipients == ("reader@isp.example.com",)
    assert report.original_message_id == "<sent-42@sender.example>"


def test_hotmail_style_forwarded_complaint_without_arf() -> None:
    raw = (
        b"From: staff@mail.example.com\nTo: abuse@sender.example\n"
        b"Subject: complaint about message from 192.0.2.1\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="H"\n\n'
        b"--H\nContent-Type: message/rfc822\n\n"
        b"X-HmXmrOriginalRecipient: reader@mail.example.com\n"
        b"Message-ID: <sent-7@sender.example>\nFrom: news@sender.example\n"
        b"To: reader@mail.example.com\nSubject: offer\n\nbody\n--H--\n"
    )
    report = classify(raw)
    assert (report.kind, report.feedback_type) == ("complaint", "abuse")
    assert [v.recipient for v in report.recipients] == ["reader@mail.example.com"]
    assert report.original_message_id == "<sent-7@sender.example>"


def test_mail_client_unsubscribe_request_is_an_opt_out_complaint() -> None:
    raw = (
        b"From: reader@mail.example.com\nTo: unsubscribe-123@sender.example\n"
        b"Subject: unsubscribe\nAuto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\n\n"
        b"Apple Mail sent this email to unsubscribe from the message.\n"
    )
    report = classify(raw)
    assert (report.kind, report.feedback_type) == ("complaint", "opt-out")
    assert [v.recipient for v in report.recipients] == ["reader@mail.example.com"]


def test_feedback_fields_in_a_broken_report_body_are_still_read() -> None:
    raw = (
        b"From: fbl@isp.example.com\nSubject: report\n"
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=NOPE\n\n"
        b"Feedback-Type: abuse\nUser-Agent: x/2\nOriginal-Rcpt-To: r@isp.example.com\n"
    )
    report = classify(raw)
    assert (report.kind, report.feedback_type) == ("complaint", "abuse")
    assert report.recipients[0].recipient == "r@isp.example.com"
