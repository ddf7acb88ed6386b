"""What puts an address on the account-level suppression list, and what a send to it gets."""

from __future__ import annotations

import pytest

from sendtrail.core.delivery import retry
from sendtrail.core.delivery.suppression import (
    effective_reasons,
    is_send_suppressed,
    reason_to_add_for_bounce,
    reason_to_add_for_complaint,
    suppressed_bounce,
)

BOTH = effective_reasons(["BOUNCE", "COMPLAINT"])


def test_given_no_override_then_the_account_reasons_apply() -> None:
    assert effective_reasons(["BOUNCE"]) == {"BOUNCE"}
    assert effective_reasons(["BOUNCE", "COMPLAINT"], None) == {"BOUNCE", "COMPLAINT"}


def test_given_an_override_then_only_its_reasons_apply_and_empty_means_none() -> None:
    assert effective_reasons(["BOUNCE", "COMPLAINT"], []) == frozenset()
    assert effective_reasons(["BOUNCE"], ["COMPLAINT"]) == {"COMPLAINT"}
    with pytest.raises(ValueError):
        effective_reasons(["SPAM"])


@pytest.mark.parametrize("subtype", ["General", "NoEmail"])
def test_given_a_permanent_bounce_then_the_address_is_added_for_bounce(subtype: str) -> None:
    assert reason_to_add_for_bounce("Permanent", subtype, BOTH) == "BOUNCE"


@pytest.mark.parametrize(
    ("bounce_type", "subtype"),
    [
        ("Transient", "General"),  # includes the 4.4.7 expiry bounce and auto-replies
        ("Transient", "MailboxFull"),
        ("Transient", "ContentRejected"),
        ("Undetermined", "Undetermined"),
        ("Permanent", "OnAccountSuppressionList"),  # the send was already suppressed
        ("Permanent", "Suppressed"),
    ],
)
def test_given_a_bounce_that_says_nothing_final_then_nothing_is_added(
    bounce_type: str, subtype: str
) -> None:
    assert reason_to_add_for_bounce(bounce_type, subtype, BOTH) is None


def test_given_the_expiry_bounce_then_nothing_is_added() -> None:
    expired = retry.expiry_outcome()

    assert expired.bounce_type is not None and expired.bounce_subtype is not None
    assert reason_to_add_for_bounce(expired.bounce_type, expired.bounce_subtype, BOTH) is None


def test_given_a_simulator_address_then_never_added() -> None:
    assert reason_to_add_for_bounce("Permanent", "General", BOTH, simulator=True) is None
    assert reason_to_add_for_complaint(None, BOTH, simulator=True) is None


def test_given_reasons_without_bounce_then_bounces_add_nothing() -> None:
    only_complaints = effective_reasons(["BOUNCE", "COMPLAINT"], ["COMPLAINT"])

    assert reason_to_add_for_bounce("Permanent", "NoEmail", only_complaints) is None
    assert reason_to_add_for_complaint(None, only_complaints) == "COMPLAINT"


def test_given_a_complaint_then_added_for_complaint_unless_already_suppressed() -> None:
    assert reason_to_add_for_complaint(None, BOTH) == "COMPLAINT"
    assert reason_to_add_for_complaint("OnAccountSuppressionList", BOTH) is None
    assert reason_to_add_for_complaint(None, effective_reasons(["BOUNCE"])) is None


def test_given_listed_addresses_then_sends_skip_them_only_for_reasons_in_force() -> None:
    assert is_send_suppressed("BOUNCE", BOTH)
    assert not is_send_suppressed(None, BOTH)
    assert not is_send_suppressed("BOUNCE", effective_reasons(["BOUNCE"], []))
    assert not is_send_suppressed("COMPLAINT", effective_reasons(["COMPLAINT"], ["BOUNCE"]))


def test_given_a_send_to_an_account_suppressed_address_then_ses_bounce() -> None:
    outcome = suppressed_bounce()

    assert outcome.kind == "hard" and outcome.action == "failed"
    assert (outcome.bounce_type, outcome.bounce_subtype) == (
        "Permanent",
        "OnAccountSuppressionList",
    )
    assert outcome.reporting_mta == "dns; amazonses.com"
    assert outcome.status == "5.1.1"
    assert outcome.diagnostic_code == (
        "Amazon SES did not send the message to this address because it is on the suppression "
        "list for your account. For more information about removing addresses from the "
        "suppression list, see the Amazon SES Developer Guide at "
        "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"
    )


def test_given_the_global_list_subtype_then_its_own_text() -> None:
    outcome = suppressed_bounce("Suppressed")

    assert outcome.bounce_subtype == "Suppressed"
    assert outcome.diagnostic_code is not None
    assert outcome.diagnostic_code.startswith("Amazon SES has suppressed sending to this address")
    with pytest.raises(ValueError):
        suppressed_bounce("General")
