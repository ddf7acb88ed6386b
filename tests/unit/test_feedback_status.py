"""Status codes in free text, and the status -> SES bounce type/subtype mapping."""

from __future__ import annotations

import pytest

from sendtrail.core.feedback.classify import bounce_subtype, bounce_type
from sendtrail.core.feedback.status import (
    best_status,
    parse_status_field,
    pick_enhanced,
    pick_reply,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("550 5.1.1 <a@b.example>... User unknown", "5.1.1"),
        ("550-5.7.26 Unauthenticated email", "5.7.26"),
        ("Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"),
        ("Resources temporarily unavailable [#4.1.9].", "4.1.9"),
        ("smtp;550 5.4.316 Message expired", "5.4.316"),
        ("5.1.0 - Unknown address error 550-'5.2.2 Mailbox full'", "5.2.2"),
        ("554 4.4.7 Message expired <421 4.4.2 Connection timed out>", "4.4.2"),
        ("said: 550\n    5.7.1 <a@b.example>: Recipient address rejected", "5.7.1"),
        ("host [192.0.2.5] refused; Exim 4.72; deferred 4.16.55.1", None),
        ("see DSN 5.1.10 docs; Remote Server returned '550 5.1.1 not found'", "5.1.1"),
    ],
)
def test_enhanced_code_found_in_text(text: str, code: str | None) -> None:
    assert pick_enhanced(text) == code


def test_reply_codes_ignore_addresses_and_transcript_success_lines() -> None:
    assert pick_reply("host 203.0.113.2 said: 550 Unknown user") == "550"
    assert pick_reply("Out: 250 2.1.5 Ok\nOut: 451 4.3.0 Error") == "451"
    assert pick_reply("ERROR_CODE :421, Host not reachable") == "421"
    assert pick_reply("port 25 at 192.0.2.250") is None


def test_status_field_and_combination() -> None:
    assert parse_status_field("5.0.0 (permanent failure)") == "5.0.0"
    assert parse_status_field("unknown") is None
    # A more specific code of the same class in the diagnostic refines the Status field.
    assert best_status("4.4.7", "450 4.7.1 Client host rejected") == "4.7.1"
    assert best_status("5.0.0", None, "who@x: 550 5.7.26 DMARC") == "5.7.26"
    assert best_status("5.0.0", "451 4.3.0 later") == "5.0.0"
    # Without any enhanced code the reply code gives the class.
    assert best_status(None, "552 sorry, mailbox full") == "5.0.0"
    assert best_status(None, "no code here") is None


@pytest.mark.parametrize(
    ("status", "action", "wording", "expected"),
    [
        ("5.1.1", "failed", "", "Permanent"),
        ("4.2.2", "failed", "", "Transient"),
        ("5.0.0", "delayed", "", "Transient"),
        (None, "failed", "", "Permanent"),
        (None, None, "Delivery to the following recipient has been delayed", "Transient"),
        (None, None, "This is a permanent error", "Permanent"),
        (None, None, "hello", "Undetermined"),
    ],
)
def test_bounce_type(status: str | None, action: str | None, wording: str, expected: str) -> None:
    assert bounce_type(status, action, wording) == expected


@pytest.mark.parametrize(
    ("kind", "status", "diagnostic", "subtype"),
    [
        ("Permanent", "5.1.1", "User unknown", "NoEmail"),
        ("Permanent", "5.0.0", "550 <a@b>: User unknown in local recipient table", "NoEmail"),
        ("Transient", "4.1.1", "User unknown", "General"),
        ("Permanent", "5.2.2", "", "MailboxFull"),
        ("Transient", "4.0.0", "Disk quota exceeded", "MailboxFull"),
        ("Permanent", "5.3.4", "", "MessageTooLarge"),
        (
            "Permanent",
            "5.0.0",
            "Message size exceeds fixed maximum message size",
            "MessageTooLarge",
        ),
        ("Permanent", "5.7.1", "Message content rejected, UBE", "ContentRejected"),
        ("Permanent", "5.0.0", "550 Virus Detected", "ContentRejected"),
        ("Permanent", "5.7.1", "attachment type not allowed", "AttachmentRejected"),
        ("Permanent", "5.7.1", "Client host blocked for spamming issue", "General"),
        ("Permanent", "5.1.8", "Domain of sender address does not exist", "General"),
        ("Permanent", "5.0.0", "Address is on the suppression list", "Suppressed"),
        ("Permanent", "5.0.0", "on the account-level suppression list", "OnAccountSuppressionList"),
        ("Permanent", "5.7.1", "Relay access denied", "General"),
        ("Undetermined", None, "", "Undetermined"),
    ],
)
def test_bounce_subtype(kind: str, status: str | None, diagnostic: str, subtype: str) -> None:
    assert bounce_subtype(kind, status, diagnostic) == subtype
