"""Non-standard bounces: recipients and diagnostics read from the notification text."""

from __future__ import annotations

from sendtrail.core.feedback import classify
from sendtrail.core.feedback.textual import mentioned_addresses, recipient_blocks


def _mail(sender: str, subject: str, body: str, to: str = "us@sender.example") -> bytes:
    return f"From: {sender}\nTo: {to}\nSubject: {subject}\n\n{body}".encode()


def _verdicts(raw: bytes) -> list[tuple[str | None, str | None, str | None]]:
    report = classify(raw)
    assert report.kind == "bounce"
    return [(v.recipient, v.status, v.bounce_type) for v in report.recipients]


def test_qmail_style_address_paragraphs() -> None:
    raw = _mail(
        "MAILER-DAEMON@mx.example.org",
        "failure notice",
        "Hi. This is the qmail-send program at mx.example.org.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<one@example.net>:\n192.0.2.1 does not like recipient.\n"
        "Remote host said: 550 5.1.1 <one@example.net>... User unknown\n\n"
        "<two@example.net>:\nSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Message-ID: <m1@sender.example>\nTo: one@example.net, two@example.net\n\nhi\n",
    )
    assert _verdicts(raw) == [
        ("one@example.net", "5.1.1", "Permanent"),
        ("two@example.net", "4.4.1", "Transient"),
    ]
    report = classify(raw)
    assert report.original_message_id == "<m1@sender.example>"
    assert report.recipients[0].bounce_subtype == "NoEmail"


def test_exim_indented_address_with_smtp_error_block() -> None:
    raw = _mail(
        "Mail Delivery System <Mailer-Daemon@mx.example.org>",
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  full@example.net\n"
        "    host mx.example.net [192.0.2.9]\n"
        "    SMTP error from remote mail server after RCPT TO:<full@example.net>:\n"
        "    552 5.2.2 Mailbox quota exceeded\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Message-Id: <m2@sender.example>\n",
    )
    report = classify(raw)
    (verdict,) = report.recipients
    assert (verdict.recipient, verdict.status, verdict.bounce_subtype) == (
        "full@example.net",
        "5.2.2",
        "MailboxFull",
    )
    assert verdict.remote_mta == "mx.example.net"
    assert verdict.diagnostic_code == "552 5.2.2 Mailbox quota exceeded"


def test_postfix_text_only_bounce_with_wrapped_reply() -> None:
    raw = _mail(
        "MAILER-DAEMON@relay.example.org (Mail Delivery System)",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host relay.example.org.\n\n"
        "<who@example.net>: host mx.example.net[192.0.2.7] said: 550\n"
        "    5.7.1 <who@example.net>: Recipient address rejected: Access denied (in\n"
        "    reply to RCPT TO command)\n",
    )
    assert _verdicts(raw) == [("who@example.net", "5.7.1", "Permanent")]
    assert classify(raw).recipients[0].bounce_subtype == "General"


def test_sendmail_transcript_lines_each_name_a_recipient() -> None:
    raw = _mail(
        "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>",
        "Returned mail: User unknown",
        "   ----- Transcript of session follows -----\n"
        "554 <a@example.net>... 550 Host unknown (Authoritative answer from name server)\n"
        "While talking to mail.example.com:\n>>> RCPT To:<b@example.com>\n"
        "<<< 550 <b@example.com>... User unknown\n550 <b@example.com>... User unknown\n"
        "   ----- Unsent message follows -----\n",
    )
    assert _verdicts(raw) == [
        ("a@example.net", "5.0.0", "Permanent"),
        ("b@example.com", "5.0.0", "Permanent"),
    ]


def test_exchange_list_first_and_diagnostics_later() -> None:
    raw = _mail(
        "postmaster@corp.example.org",
        "Undeliverable: hello",
        "Delivery has failed to these recipients or groups:\n\n"
        "Alice<mailto:alice@example.net>\nThe email address wasn't found.\n\n"
        "bob@example.net<mailto:bob@example.net>\nThe mailbox is full.\n\n"
        "Diagnostic information for administrators:\n\n"
        "alice@example.net\nRemote Server returned '550 5.1.10 RecipientNotFound'\n\n"
        "bob@example.net\nRemote Server returned '552 5.2.2 Mailbox full'\n\n"
        "Original message headers:\n\nMessage-ID: <m3@sender.example>\n",
    )
    assert _verdicts(raw) == [
        ("alice@example.net", "5.1.10", "Permanent"),
        ("bob@example.net", "5.2.2", "Permanent"),
    ]


def test_delay_notice_without_code_is_transient() -> None:
    raw = _mail(
        "Mail Delivery Subsystem <mailer-daemon@mail.example.org>",
        "Delivery Status Notification (Delay)",
        "THIS IS A WARNING MESSAGE ONLY.\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
        "Delivery to the following recipient has been delayed:\n\n     late@example.net\n\n"
        "Message will be retried for 2 more day(s)\n",
    )
    (verdict,) = classify(raw).recipients
    assert (verdict.recipient, verdict.action, verdict.bounce_type) == (
        "late@example.net",
        "delayed",
        "Transient",
    )


def test_sender_addresses_are_never_taken_for_recipients() -> None:
    raw = _mail(
        "MAILER-DAEMON@mx.example.org",
        "failure notice",
        "Your message could not be delivered.\n"
        "SMTP error after MAIL FROM:<us@sender.example>: 553 5.1.8 sender rejected\n"
        "It was addressed to target@example.net.\n",
    )
    assert [v.recipient for v in classify(raw).recipients] == ["target@example.net"]


def test_no_recipient_anywhere_still_gives_one_bounce_line() -> None:
    raw = _mail("MAILER-DAEMON@mx.example.org", "Mail delivery failed", "mailbox is full\n")
    (verdict,) = classify(raw).recipients
    assert verdict.recipient is None
    assert (verdict.bounce_type, verdict.bounce_subtype) == ("Permanent", "MailboxFull")


def test_mailing_list_rejection_notice() -> None:
    raw = (
        b"From: list-admin@lists.example.org\nTo: us@sender.example\n"
        b"Subject: You are not member (team ML)\nX-MLServer: fml [fml 4.0]\n\n"
        b"You are not a member of this mailing list <team@lists.example.org>.\n"
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert report.recipients[0].recipient == "team@lists.example.org"


def test_block_helpers() -> None:
    blocks, preamble = recipient_blocks(
        "Intro text\n<x@example.net>: 550 no\n  more about x\n<y@example.net>: 450 later\n",
        exclude=set(),
    )
    assert preamble == "Intro text"
    assert [(b.address, b.text.strip()) for b in blocks] == [
        ("x@example.net", "<x@example.net>: 550 no\n  more about x"),
        ("y@example.net", "<y@example.net>: 450 later"),
    ]
    text = "Contact support@example.org or help@example.org about person@example.net"
    assert mentioned_addresses(text, set()) == ["person@example.net"]


def test_the_address_the_sender_used_is_reported_for_an_expanded_alias() -> None:
    raw = _mail(
        "Mail Delivery System <Mailer-Daemon@mx.example.org>",
        "Mail delivery failed: returning message to sender",
        "The following address(es) failed:\n\n"
        "  final@elsewhere.example.net\n"
        "    (generated from alias@example.org)\n"
        "    host mx.elsewhere.example.net [192.0.2.1]: 550 5.2.0 Mail rejected\n",
    )
    assert _verdicts(raw) == [("alias@example.org", "5.2.0", "Permanent")]
