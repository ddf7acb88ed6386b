"""Identity coverage and SES's unverified-identity refusal."""

from __future__ import annotations

import pytest

from sendtrail.core.acceptance.addresses import parse_address
from sendtrail.core.acceptance.errors import Condition, SesError
from sendtrail.core.acceptance.identities import (
    VerifiedIdentities,
    check_identities,
    failing_identities,
    is_covered,
)

VERIFIED = VerifiedIdentities.of(["Example.com", "owner@gmail.com", "Ops@Corp.io"])


@pytest.mark.parametrize(
    ("address", "covered"),
    [
        ("anyone@example.com", True),  # the domain covers its addresses
        ("anyone@EXAMPLE.com", True),  # domain identities ignore case
        ("someone@mail.example.com", True),  # and, per the current DG, subdomains
        ("someone@a.b.example.com", True),
        ("someone@notexample.com", False),  # a suffix is not a parent domain
        ("owner@gmail.com", True),  # an email identity covers itself
        ("owner@GMAIL.COM", True),  # its domain part ignores case
        ("Owner@gmail.com", False),  # its local part does not
        ("owner+news@gmail.com", True),  # labels ride on the verified address
        ("other@gmail.com", False),  # an email identity does not cover its domain
        ("Ops@corp.io", True),
        ("ops@corp.io", False),
    ],
)
def test_coverage_rules(address: str, covered: bool) -> None:
    assert is_covered(parse_address(address), VERIFIED) is covered


def test_subdomains_can_be_left_uncovered() -> None:
    # Given the stricter reading where a domain covers only itself
    address = parse_address("someone@mail.example.com")
    # Then a subdomain address is not covered
    assert not is_covered(address, VERIFIED, subdomains_covered=False)
    assert is_covered(parse_address("someone@example.com"), VERIFIED, subdomains_covered=False)


def test_identity_names_are_sorted_into_addresses_and_domains() -> None:
    identities = VerifiedIdentities.of([" Example.COM ", "Jane@Example.COM"])
    assert identities.domains == frozenset({"example.com"})
    assert identities.email_addresses == frozenset({"Jane@example.com"})


def test_unverified_sender_is_refused_with_ses_message() -> None:
    # Given a From with a display name on an unverified domain, in production
    # When identities are checked
    with pytest.raises(SesError) as caught:
        check_identities(
            region="us-west-2",
            verified=VERIFIED,
            senders=["Sendportal <nagaraj@datafindsolution.com>"],
            recipients=["anyone@elsewhere.org"],
        )
    # Then the identity is printed as given and recipients are not checked
    error = caught.value
    assert error.condition is Condition.UNVERIFIED_IDENTITY
    assert error.code == "MessageRejected"
    assert error.message == (
        "Email address is not verified. The following identities failed the check in region "
        "US-WEST-2: Sendportal <nagaraj@datafindsolution.com>"
    )


def test_verified_senders_in_production_pass_whatever_the_recipients() -> None:
    check_identities(
        region="us-east-1",
        verified=VERIFIED,
        senders=["News <news@example.com>", "<owner@gmail.com>"],
        recipients=["stranger@elsewhere.org"],
        sandbox=False,
    )


def test_sandbox_requires_verified_recipients_except_simulator() -> None:
    # Given a sandboxed account sending to a verified, an unverified and a simulator address
    failing = failing_identities(
        verified=VERIFIED,
        senders=["news@example.com"],
        recipients=[
            "friend@example.com",
            "Stranger <stranger@elsewhere.org>",
            "Bounce+t1@Simulator.AmazonSES.com",
        ],
        sandbox=True,
    )
    # Then only the unverified ordinary recipient fails, printed as given
    assert failing == ["Stranger <stranger@elsewhere.org>"]


def test_senders_are_listed_before_recipients_and_each_once() -> None:
    failing = failing_identities(
        verified=VerifiedIdentities(),
        senders=["a@x.com", "b@x.com", "a@x.com"],
        recipients=["c@y.com", "a@x.com"],
        sandbox=True,
    )
    assert failing == ["a@x.com", "b@x.com", "c@y.com"]


def test_unknown_simulator_local_part_is_not_exempt_in_sandbox() -> None:
    failing = failing_identities(
        verified=VERIFIED,
        senders=["news@example.com"],
        recipients=["hi@simulator.amazonses.com"],
        sandbox=True,
    )
    assert failing == ["hi@simulator.amazonses.com"]


def test_many_failures_end_with_ellipsis() -> None:
    with pytest.raises(SesError) as caught:
        check_identities(
            region="eu-west-1",
            verified=VerifiedIdentities(),
            senders=["s@x.com"],
            recipients=[f"r{i}@y.com" for i in range(5)],
            sandbox=True,
            max_listed=2,
        )
    assert caught.value.message.endswith("EU-WEST-1: s@x.com, r0@y.com...")


def test_malformed_sender_is_an_address_error_not_an_identity_error() -> None:
    with pytest.raises(SesError) as caught:
        check_identities(region="us-east-1", verified=VERIFIED, senders=["news@"])
    assert caught.value.message == "Missing domain"
