"""RFC 3464 delivery status notifications: per-recipient verdicts from the report part."""

from __future__ import annotations

from sendtrail.core.feedback import classify
from sendtrail.core.feedback.dsn import normalize_action, parse_dsn, strip_address_type


def _dsn(notification: str, status_part: str, original: str = "", subject: str = "x") -> bytes:
    original = original or (
        "Message-ID: <orig-1@sender.example>\n"
        "To: Someone <rcpt@example.net>\n"
        "From: us@sender.example\n"
        "Subject: hello\n\nbody\n"
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
        "To: us@sender.example\n"
        f"Subject: {subject}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\n"
        f"{notification}\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"{status_part}\n"
        "--B\nContent-Type: message/rfc822\n\n"
        f"{original}\n"
        "--B--\n"
    ).encode()


def test_failed_recipients_in_order_with_status_type_and_subtype() -> None:
    raw = _dsn(
        "Delivery failed.",
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; first@example.net\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; mx.example.net\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <first@example.net>... User unknown\n\n"
        "Final-Recipient: rfc822; second@example.net\nAction: failed\nStatus: 5.2.2\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n",
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert report.reporting_mta == "mx.example.org"
    assert report.reporting_domain == "mx.example.org"
    first, second = report.recipients
    assert (first.recipient, first.action, first.status) == ("first@example.net", "failed", "5.1.1")
    assert (first.bounce_type, first.bounce_subtype) == ("Permanent", "NoEmail")
    assert first.remote_mta == "mx.example.net"
    assert first.diagnostic_code == "smtp; 550 5.1.1 <first@example.net>... User unknown"
    assert (second.status, second.bounce_type, second.bounce_subtype) == (
        "5.2.2",
        "Permanent",
        "MailboxFull",
    )
    assert report.original_message_id == "<orig-1@sender.example>"
    assert report.original_recipients == ("rcpt@example.net",)


def test_delayed_action_is_transient_whatever_the_code() -> None:
    raw = _dsn(
        "Delivery is delayed.",
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; slow@example.net\nAction: delayed\nStatus: 4.4.1\n"
        "Will-Retry-Until: Thu, 2 Jul 2026 10:00:00 +0000\n",
    )
    (verdict,) = classify(raw).recipients
    assert (verdict.action, verdict.status, verdict.bounce_type) == (
        "delayed",
        "4.4.1",
        "Transient",
    )


def test_delivered_and_relayed_reports_are_kind_delivered() -> None:
    raw = _dsn(
        "Here is the delivery report you asked for.",
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; ok@example.net\nAction: delivered\nStatus: 2.0.0\n\n"
        "Final-Recipient: rfc822; far@example.net\nAction: relayed\nStatus: 2.0.0\n",
    )
    report = classify(raw)
    assert report.kind == "delivered"
    assert [v.action for v in report.recipients] == ["delivered", "relayed"]
    assert all(v.bounce_type is None and v.bounce_subtype is None for v in report.recipients)


def test_specific_code_in_the_diagnostic_refines_a_generic_status() -> None:
    raw = _dsn(
        "failed",
        "Reporting-MTA: dns; relay.example.org\n\n"
        "Final-Recipient: rfc822; who@example.net\nAction: failed\n"
        "Status: 5.0.0 (permanent failure)\n"
        "Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.2.2 Mailbox full'\n",
    )
    (verdict,) = classify(raw).recipients
    # The innermost reply (the recipient's own server) wins over the relay's wrapper code.
    assert verdict.status == "5.2.2"
    assert verdict.bounce_subtype == "MailboxFull"


def test_a_diagnostic_code_of_another_class_never_overrides_the_status() -> None:
    raw = _dsn(
        "failed",
        "Final-Recipient: rfc822; who@example.net\nAction: failed\nStatus: 5.0.0\n"
        "Diagnostic-Code: smtp; 451 4.3.0 try later\n",
    )
    (verdict,) = classify(raw).recipients
    assert (verdict.status, verdict.bounce_type) == ("5.0.0", "Permanent")


def test_generic_status_is_refined_from_the_human_readable_text() -> None:
    raw = _dsn(
        "An error has occurred while attempting to deliver a message for\n"
        "the following list of recipients:\n\n"
        "who@example.net: 550 5.7.26 Unauthenticated email is not accepted\n",
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; who@example.net\nAction: failed\nStatus: 5.0.0\n",
    )
    (verdict,) = classify(raw).recipients
    assert verdict.status == "5.7.26"
    assert "Unauthenticated" in (verdict.diagnostic_code or "")


def test_original_recipient_is_preferred_over_an_alias_expansion() -> None:
    raw = _dsn(
        "failed",
        "Final-Recipient: rfc822; mailbox@internal.example.net\n"
        "Original-Recipient: rfc822;public@example.net\nAction: failed\nStatus: 5.1.1\n",
    )
    assert classify(raw).recipients[0].recipient == "public@example.net"


def test_a_pipe_final_recipient_yields_the_embedded_address() -> None:
    raw = _dsn(
        "failed",
        "Action: failed\nFinal-Recipient: rfc822;|/usr/bin/prog user@example.net /home/u\n"
        "Status: 5.0.0\n",
    )
    assert classify(raw).recipients[0].recipient == "user@example.net"


def test_groups_run_together_without_blank_lines_are_split() -> None:
    report = parse_dsn(
        "Reporting-MTA: dns; mx.example.org\n"
        "Final-Recipient: rfc822;a@example.net\nAction: failed\nStatus: 5.0.0\n"
        "Final-Recipient: rfc822;b@example.net\nAction: delayed\nStatus: 4.0.0\n"
    )
    assert report is not None
    assert [(r.address, r.action) for r in report.recipients] == [
        ("a@example.net", "failed"),
        ("b@example.net", "delayed"),
    ]


def test_dsn_fields_inside_a_broken_multipart_are_still_read() -> None:
    raw = (
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n"
        b"Subject: Returned mail: see transcript for details\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="MISSING"\n\n'
        b"   ----- The following addresses had permanent fatal errors -----\n"
        b"<gone@example.net>\n\n"
        b"Reporting-MTA: dns; mx.example.org\n\n"
        b"Final-Recipient: RFC822; <gone@example.net>\nAction: failed\nStatus: 5.5.0\n"
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert [(v.recipient, v.status) for v in report.recipients] == [("gone@example.net", "5.5.0")]


def test_a_bounce_forwarded_with_quote_marks_is_read() -> None:
    raw = (
        b"From: Person <person@example.org>\nSubject: Fwd: Returned mail\n\n"
        b"Begin forwarded message:\n\n"
        b"> Final-Recipient: RFC822; lost@example.com\n> Action: failed\n> Status: 5.1.1\n"
        b"> Diagnostic-Code: SMTP; 550 5.1.1 <lost@example.com>... User unknown\n"
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert (report.recipients[0].recipient, report.recipients[0].status) == (
        "lost@example.com",
        "5.1.1",
    )


def test_helpers_normalise_field_values() -> None:
    assert strip_address_type("rfc822; <a@b.example>") == "a@b.example"
    assert strip_address_type("dns; mx.example.net") == "mx.example.net"
    assert normalize_action("Deliverable") == "delivered"
    assert normalize_action("failed (bad address)") == "failed"
    assert normalize_action(None) is None
