"""Given what the remote server said (or that it said nothing), then this AttemptOutcome."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.delivery import outcomes
from sendtrail.core.delivery.outcomes import AttemptOutcome, OutcomeKind, Phase, classify_reply


def test_given_250_after_data_when_classified_then_delivered_with_the_reply() -> None:
    outcome = classify_reply("data_end", 250, "2.6.0 Message received")

    assert outcome.kind == "delivered"
    assert outcome.smtp_response == "250 2.6.0 Message received"
    assert outcome.action == "delivered"
    assert outcome.status is None and outcome.bounce_type is None


def test_given_550_user_unknown_at_rcpt_then_hard_permanent_general_in_ses_form() -> None:
    outcome = classify_reply(Phase.RCPT, 550, "5.1.1 user unknown")

    assert outcome == AttemptOutcome(
        kind=OutcomeKind.HARD,
        phase=Phase.RCPT,
        status="5.1.1",
        diagnostic_code="smtp; 550 5.1.1 user unknown",
        bounce_type="Permanent",
        bounce_subtype="General",
    )
    assert outcome.action == "failed"
    assert outcome.last_error == "550 5.1.1 user unknown"


def test_given_a_reply_without_enhanced_status_then_status_derived_from_the_code() -> None:
    hard = classify_reply("data_end", 554, "Transaction failed")
    soft = classify_reply("rcpt", 450, "mailbox busy")

    assert (hard.status, hard.diagnostic_code) == ("5.0.0", "smtp; 554 Transaction failed")
    assert (soft.status, soft.diagnostic_code) == ("4.0.0", "smtp; 450 mailbox busy")


def test_given_a_status_of_another_class_than_the_reply_then_it_is_not_trusted() -> None:
    outcome = classify_reply("rcpt", 450, "5.1.1 user unknown, try later 4.2.0")

    assert outcome.kind == "soft" and outcome.status == "4.2.0"
    assert classify_reply("rcpt", 450, "5.1.1 user unknown").status == "4.0.0"


def test_given_452_mailbox_full_then_soft_mailboxfull_delay() -> None:
    outcome = classify_reply(
        "rcpt", 452, "4.2.2 The email account that you tried to reach is over quota"
    )

    assert outcome.kind == "soft" and outcome.action == "delayed"
    assert (outcome.status, outcome.delay_type) == ("4.2.2", "MailboxFull")
    assert outcome.bounce_type is None


def test_given_552_size_refusal_then_hard_transient_message_too_large() -> None:
    outcome = classify_reply(
        "data_end", 552, "5.3.4 Message size exceeds fixed maximum message size"
    )

    assert outcome.kind == "hard"
    assert (outcome.bounce_type, outcome.bounce_subtype) == ("Transient", "MessageTooLarge")


def test_given_a_multiline_reply_then_the_diagnostic_keeps_ses_continuation_prefixes() -> None:
    text = (
        "5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "5.1.1 double-checking the recipient's email address for typos or\n"
        "5.1.1 unnecessary spaces. Learn more at\n"
        "5.1.1  https://support.google.com/mail/?p=NoSuchUser d66si1436855pga.778 - gsmtp"
    )

    outcome = classify_reply("rcpt", 550, text)

    assert outcome.diagnostic_code == (
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "550-5.1.1 double-checking the recipient's email address for typos or\n"
        "550-5.1.1 unnecessary spaces. Learn more at\n"
        "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser d66si1436855pga.778 - gsmtp"
    )
    assert outcome.status == "5.1.1"


@pytest.mark.parametrize(
    ("phase", "code"), [("rcpt", 250), ("mail", 250), ("data", 354), ("data_end", 199)]
)
def test_given_a_reply_that_is_not_final_then_refused(phase: str, code: int) -> None:
    with pytest.raises(ValueError):
        classify_reply(phase, code, "ok")


def test_given_connection_failures_then_soft_transient_communication_failures_in_ses_text() -> None:
    refused = outcomes.connection_refused()
    timed_out = outcomes.connection_timed_out()
    dropped = outcomes.connection_dropped("data_end")

    assert refused.diagnostic_code == "smtp; 421 4.4.1 Unable to connect to remote host"
    assert timed_out.diagnostic_code == "smtp; 421 4.4.1 Failed to establish connection"
    assert timed_out.last_error == "421 4.4.1 Failed to establish connection"
    assert dropped.status == "4.4.2" and dropped.phase == "data_end"
    for outcome in (refused, timed_out, dropped):
        assert outcome.kind == "soft"
        assert outcome.delay_type == "TransientCommunicationFailure"
    assert outcomes.connection_timed_out("rcpt").status == "4.4.2"


def test_given_dns_lookup_failure_then_soft_with_ses_text() -> None:
    outcome = outcomes.dns_failure("mailinatorc.com")

    assert outcome.kind == "soft" and outcome.status == "4.4.0"
    assert outcome.diagnostic_code == "smtp; 421 4.4.0 Unable to lookup DNS for mailinatorc.com"
    assert outcome.delay_type == "TransientCommunicationFailure"


def test_given_null_mx_then_hard_permanent_noemail_5_1_10() -> None:
    outcome = outcomes.null_mx("example.com")

    assert outcome.kind == "hard" and outcome.status == "5.1.10"
    assert (outcome.bounce_type, outcome.bounce_subtype) == ("Permanent", "NoEmail")
    assert outcome.diagnostic_code.startswith("smtp; 556 5.1.10 ")


def test_given_tls_required_but_unavailable_then_soft_so_the_address_is_never_suppressed() -> None:
    not_offered = outcomes.tls_not_offered("mx.example.com")
    handshake = outcomes.tls_handshake_failed("mx.example.com", "certificate verify failed")

    assert not_offered.kind == "soft" and not_offered.status == "4.7.4"
    assert not_offered.diagnostic_code == (
        "smtp; 421 4.7.4 TLS is required, but was not offered by host mx.example.com"
    )
    assert handshake.kind == "soft" and handshake.status == "4.7.5"
    assert handshake.phase == "starttls"


def test_given_message_over_the_ehlo_size_limit_then_hard_message_too_large() -> None:
    outcome = outcomes.message_too_large(12_000_000, 10_485_760, "mx.example.com")

    assert outcome.kind == "hard" and outcome.status == "5.3.4"
    assert (outcome.bounce_type, outcome.bounce_subtype) == ("Transient", "MessageTooLarge")
    assert outcome.diagnostic_code == (
        "smtp; 552 5.3.4 Message size 12000000 exceeds size limit 10485760 of server mx.example.com"
    )


def test_engine_side_deferrals_use_their_ses_delay_types() -> None:
    assert outcomes.internal_failure("queue full").delay_type == "InternalFailure"
    assert outcomes.sending_deferral("rate limit").delay_type == "SendingDeferral"


def test_outcomes_round_trip_through_msgspec() -> None:
    outcome = classify_reply("rcpt", 550, "5.1.1 user unknown")

    decoded = msgspec.json.decode(msgspec.json.encode(outcome), type=AttemptOutcome)

    assert decoded == outcome
    assert b'"bounce_type":"Permanent"' in msgspec.json.encode(outcome)


failing_phases = st.sampled_from(list(Phase))
reply_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)


@given(phase=failing_phases, code=st.integers(500, 599), text=reply_text)
def test_every_5xx_is_hard_with_a_ses_bounce_pair(phase: Phase, code: int, text: str) -> None:
    outcome = classify_reply(phase, code, text)

    assert outcome.kind == "hard"
    assert outcome.bounce_type in ("Permanent", "Transient")
    assert outcome.bounce_subtype is not None and outcome.delay_type is None
    assert outcome.status is not None and outcome.status.startswith("5.")
    assert outcome.diagnostic_code is not None
    assert outcome.diagnostic_code.startswith(f"smtp; {code}")


@given(phase=failing_phases, code=st.integers(400, 499), text=reply_text)
def test_every_4xx_is_soft_with_a_delay_type(phase: Phase, code: int, text: str) -> None:
    outcome = classify_reply(phase, code, text)

    assert outcome.kind == "soft"
    assert outcome.delay_type is not None and outcome.bounce_type is None
    assert outcome.status is not None and outcome.status.startswith("4.")
