"""What correlation needs: the original Message-ID, References, recipients, reporting domain."""

from __future__ import annotations

from sendtrail.core.feedback import classify
from sendtrail.core.feedback.original import from_text


def test_inline_quoted_headers_after_a_copy_marker() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\nTo: us@sender.example\nSubject: failure notice\n\n"
        b"<x@example.net>:\n550 5.1.1 unknown\n\n"
        b"--- Below this line is a copy of the message.\n\n"
        b"Return-Path: <us@sender.example>\nMessage-ID: <orig-5@sender.example>\n"
        b"References: <r1@sender.example>\n <r2@sender.example>\n"
        b"To: X <x@example.net>,\n y@example.net\nSubject: hi\n\nbody\n"
    )
    report = classify(raw)
    assert report.original_message_id == "<orig-5@sender.example>"
    assert report.original_references == ("<r1@sender.example>", "<r2@sender.example>")
    assert report.original_recipients == ("x@example.net", "y@example.net")
    assert report.reporting_domain == "mx.example.org"
    assert report.subject == "failure notice"


def test_indented_header_listing_is_not_read_as_continuations() -> None:
    found = from_text("Your message\n\n  To:      a@example.net\n  Subject: hello\n")
    assert found is not None
    assert found.recipients == ("a@example.net",)


def test_rfc822_headers_part_and_reporting_mta_domain() -> None:
    raw = (
        b"From: postmaster@relay.example.org\nSubject: Delivery Status Notification (Failure)\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="Z"\n\n'
        b"--Z\nContent-Type: text/plain\n\nfailed\n"
        b"--Z\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; out-7.mail.example.org\n\n"
        b"Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1\n"
        b"--Z\nContent-Type: text/rfc822-headers\n\n"
        b"Message-Id: <orig-6@sender.example>\nTo: x@example.net\n"
        b"--Z--\n"
    )
    report = classify(raw)
    assert report.original_message_id == "<orig-6@sender.example>"
    assert report.reporting_domain == "out-7.mail.example.org"


def test_a_bounce_forwarded_as_an_attachment_is_read_from_the_attachment() -> None:
    inner = (
        b"From: MAILER-DAEMON@inner.example.org\nSubject: Returned mail\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="I"\n\n'
        b"--I\nContent-Type: text/plain\n\nfailed\n"
        b"--I\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; inner.example.org\n\n"
        b"Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1\n--I--\n"
    )
    raw = (
        b"From: MAILER-DAEMON@outer.example.org\nSubject: Returned mail: User unknown\n"
        b'Content-Type: multipart/mixed; boundary="O"\n\n'
        b"--O\nContent-Type: text/plain\n\nsee attachment\n"
        b"--O\nContent-Type: message/rfc822\n\n" + inner + b"--O--\n"
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert [(v.recipient, v.status) for v in report.recipients] == [("x@example.net", "5.1.1")]
    assert report.subject == "Returned mail: User unknown"
