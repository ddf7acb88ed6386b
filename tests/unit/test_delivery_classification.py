"""The status → SES bounce type/subtype and delay type table shared by delivery and feedback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.delivery.classification import (
    RULES,
    BounceSubType,
    BounceType,
    DelayType,
    Reason,
    bounce_type_for_status,
    delay_type_for,
    find_status,
    parse_status,
)

# Pairs SES documents in its bounce-type table; nothing else may ever come out.
SES_BOUNCE_PAIRS = {
    ("Undetermined", "Undetermined"),
    ("Permanent", "General"),
    ("Permanent", "NoEmail"),
    ("Permanent", "Suppressed"),
    ("Permanent", "OnAccountSuppressionList"),
    ("Transient", "General"),
    ("Transient", "MailboxFull"),
    ("Transient", "MessageTooLarge"),
    ("Transient", "ContentRejected"),
    ("Transient", "AttachmentRejected"),
}
SES_DELAY_TYPES = {
    "InternalFailure",
    "General",
    "MailboxFull",
    "SpamDetected",
    "RecipientServerError",
    "IPFailure",
    "TransientCommunicationFailure",
    "BYOIPHostNameLookupUnavailable",
    "Undetermined",
    "SendingDeferral",
}


def test_enums_spell_ses_values() -> None:
    assert {member.value for member in DelayType} == SES_DELAY_TYPES
    assert {member.value for member in BounceType} == {"Permanent", "Transient", "Undetermined"}
    assert {member.value for member in BounceSubType} == {sub for _, sub in SES_BOUNCE_PAIRS}


def test_every_rule_yields_pairs_from_ses_table() -> None:
    for rule in RULES.values():
        assert tuple(rule.permanent) in SES_BOUNCE_PAIRS
        assert tuple(rule.transient) in SES_BOUNCE_PAIRS
    assert set(RULES) == set(Reason)


NO_MAILBOX = ("Permanent", "General")  # how SES's own payloads file a missing mailbox
P_GENERAL = ("Permanent", "General")
T_GENERAL = ("Transient", "General")
FULL = ("Transient", "MailboxFull")
LARGE = ("Transient", "MessageTooLarge")
CONTENT = ("Transient", "ContentRejected")
ATTACHMENT = ("Transient", "AttachmentRejected")
UNDETERMINED = ("Undetermined", "Undetermined")


@pytest.mark.parametrize(
    ("status", "text", "reply_code", "expected"),
    [
        ("5.1.1", "user unknown", 550, NO_MAILBOX),
        ("5.1.0", "Address rejected", 550, NO_MAILBOX),
        ("5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found", 550, NO_MAILBOX),
        ("5.0.0", "No such user here", 550, NO_MAILBOX),
        ("5.2.2", "mailbox full", 552, FULL),
        ("4.2.2", "Mailbox full", 452, FULL),
        ("5.0.0", "Requested mail action aborted: exceeded storage allocation", 552, FULL),
        ("5.0.0", "", 552, FULL),
        ("5.3.4", "Message size exceeds fixed maximum message size", 552, LARGE),
        ("5.2.3", "Message length exceeds administrative limit", 552, LARGE),
        ("5.0.0", "Message is too long.", 552, LARGE),
        ("5.7.1", "Message rejected as spam by Content Filtering", 550, CONTENT),
        ("5.7.1", "Message rejected due to content restrictions", 554, CONTENT),
        ("5.7.1", "This message is likely unsolicited mail", 550, CONTENT),
        ("5.6.0", "Illegal MIME structure", 554, CONTENT),
        ("5.7.0", "Blocked: attachment type not allowed (.exe)", 550, ATTACHMENT),
        ("5.7.1", "Client host [192.0.2.1] blocked using zen.spamhaus.org", 554, T_GENERAL),
        ("5.7.26", "Blocked because the sender is unauthenticated.", 550, T_GENERAL),
        ("5.4.7", "Delivery time expired", 554, T_GENERAL),
        ("4.4.7", "Message expired: unable to deliver.<421 4.7.0 spam>", 550, T_GENERAL),
        ("4.1.1", "user unknown", 450, T_GENERAL),
        ("5.7.1", "Relaying denied", 550, P_GENERAL),
        ("5.0.0", "Requested action not taken", 554, P_GENERAL),
        ("", "user unknown", None, UNDETERMINED),
        ("2.0.0", "ok", 250, UNDETERMINED),
        ("nonsense", "", None, UNDETERMINED),
    ],
)
def test_given_a_final_failure_when_classified_then_ses_bounce_pair(
    status: str, text: str, reply_code: int | None, expected: tuple[str, str]
) -> None:
    assert bounce_type_for_status(status, text, reply_code) == expected


@pytest.mark.parametrize(
    ("status", "text", "reply_code", "expected"),
    [
        ("4.2.2", "The email account that you tried to reach is over quota", 452, "MailboxFull"),
        ("4.7.28", "unusual rate of unsolicited mail from your IP address", 421, "IPFailure"),
        ("4.7.0", "Messages temporarily deferred due to user complaints", 421, "SpamDetected"),
        ("4.7.1", "Client host rejected: cannot find your reverse hostname", 450, "IPFailure"),
        ("4.7.1", "Greylisted, see http://postgrey.schweikert.ch/help/", 451, "General"),
        ("4.4.1", "Unable to connect to remote host", 421, "TransientCommunicationFailure"),
        ("4.4.0", "Unable to lookup DNS for example.com", 421, "TransientCommunicationFailure"),
        ("4.4.5", "System congestion", 451, "RecipientServerError"),
        ("4.3.0", "Temporary system failure", 451, "RecipientServerError"),
        ("4.0.0", "Service not available, closing channel", 421, "RecipientServerError"),
        ("4.0.0", "Requested action aborted: local error", 451, "RecipientServerError"),
        ("4.0.0", "mailbox busy", 450, "General"),
        ("", "try later", None, "Undetermined"),
    ],
)
def test_given_a_temporary_failure_when_classified_then_ses_delay_type(
    status: str, text: str, reply_code: int | None, expected: str
) -> None:
    assert delay_type_for(status, text, reply_code) == expected


def test_a_specific_status_wins_over_the_wording() -> None:
    assert bounce_type_for_status("5.1.1", "mailbox full of spam") == ("Permanent", "General")


def test_status_parsing_accepts_dsn_comments_and_rejects_ip_addresses() -> None:
    assert parse_status("5.0.0 (permanent failure)") == (5, 0, 0)
    assert parse_status("5.1.10") == (5, 1, 10)
    assert parse_status("192.0.2.1") is None
    assert find_status("5.1.1 user unknown") == "5.1.1"
    assert find_status("Requested action not taken: mailbox unavailable (5.1.1)") == "5.1.1"
    assert find_status("rejected by 192.0.2.1 for policy") is None
    assert find_status("5.01.001 padded") == "5.1.1"


statuses = st.builds(
    "{}.{}.{}".format,
    st.sampled_from("245"),
    st.integers(0, 999),
    st.integers(0, 999),
)


@given(status=statuses, text=st.text(max_size=80), code=st.none() | st.integers(200, 599))
def test_any_status_and_text_maps_to_ses_values(status: str, text: str, code: int | None) -> None:
    pair = bounce_type_for_status(status, text, code)
    assert pair in SES_BOUNCE_PAIRS
    assert delay_type_for(status, text, code) in SES_DELAY_TYPES
    if status.startswith("4"):
        assert pair[0] == "Transient"
    if status.startswith("2"):
        assert pair == ("Undetermined", "Undetermined")
