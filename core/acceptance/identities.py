"""Which addresses a set of verified identities covers, and SES's refusal when one is not.

Coverage rules, with their sources:
- An email identity covers that address. Its local part is compared as written, because
  SES documents addresses as case-sensitive ("if you verify sender@example.com, you cannot
  send from sender@EXAMPLE.com", old DG verify-email-addresses). The domain part is
  compared without case: DNS names are case-insensitive and domain identities are
  documented so; following the old note for the domain too would refuse mail that differs
  only in how a client capitalised a host name. Decision, UNCONFIRMED for current SES.
- An email identity also covers its `+label` variants (the same DG page exempts
  "addresses containing labels" from separate verification).
- A domain identity covers every address at that domain and, by default, at any of its
  subdomains: the current DG (creating-identities) says verifying example.com covers
  a.example.com, a.b.example.com and user@a.example.com. `subdomains_covered=False` gives
  the older, stricter reading.

Identities checked: every "From", "Source", "Sender" and "Return-Path" address; in the
sandbox every recipient as well, except mailbox simulator addresses.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.addresses import EmailAddress, parse_address
from sendtrail.core.acceptance.simulator import DEFAULT_SIMULATOR_DOMAINS, simulator_scenario


class VerifiedIdentities(msgspec.Struct, frozen=True):
    """Verified identities of one region, normalised: email identities keep their local
    part as written and lower-case their domain; domains are lower-cased."""

    email_addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def of(cls, identities: Iterable[str]) -> VerifiedIdentities:
        """Sort identity names as SES does: with an '@' it is an email identity."""
        emails: set[str] = set()
        domains: set[str] = set()
        for identity in identities:
            local, at, domain = identity.strip().rpartition("@")
            if at:
                emails.add(f"{local}@{domain.lower()}")
            else:
                domains.add(domain.lower())
        return cls(email_addresses=frozenset(emails), domains=frozenset(domains))


def is_covered(
    address: EmailAddress, verified: VerifiedIdentities, *, subdomains_covered: bool = True
) -> bool:
    """True when some verified identity lets this address send (or, in the sandbox, be
    sent to)."""
    if address.address in verified.email_addresses:
        return True
    if f"{address.labelless_local_part}@{address.domain}" in verified.email_addresses:
        return True
    if address.domain in verified.domains:
        return True
    if subdomains_covered:
        labels = address.domain.split(".")
        return any(".".join(labels[i:]) in verified.domains for i in range(1, len(labels)))
    return False


def failing_identities(
    *,
    verified: VerifiedIdentities,
    senders: Iterable[EmailAddress | str],
    recipients: Iterable[EmailAddress | str] = (),
    sandbox: bool = False,
    simulator_domains: Iterable[str] = DEFAULT_SIMULATOR_DOMAINS,
    subdomains_covered: bool = True,
) -> list[str]:
    """The identities that fail, as given (display name included), senders first, each
    once. `senders` are the From, Source, Sender and Return-Path values present."""
    simulator_domains = tuple(simulator_domains)
    failing: list[str] = []
    candidates = [_as_address(sender) for sender in senders]
    if sandbox:
        candidates.extend(
            address
            for address in map(_as_address, recipients)
            if simulator_scenario(address, simulator_domains) is None
        )
    for address in candidates:
        if not is_covered(address, verified, subdomains_covered=subdomains_covered):
            failing.append(address.original)
    return list(dict.fromkeys(failing))


def check_identities(
    *,
    region: str,
    verified: VerifiedIdentities,
    senders: Iterable[EmailAddress | str],
    recipients: Iterable[EmailAddress | str] = (),
    sandbox: bool = False,
    simulator_domains: Iterable[str] = DEFAULT_SIMULATOR_DOMAINS,
    subdomains_covered: bool = True,
    max_listed: int = errors.DEFAULT_MAX_LISTED_IDENTITIES,
) -> None:
    """Raise SES's `Email address is not verified...` error if any identity fails."""
    failing = failing_identities(
        verified=verified,
        senders=senders,
        recipients=recipients,
        sandbox=sandbox,
        simulator_domains=simulator_domains,
        subdomains_covered=subdomains_covered,
    )
    if failing:
        raise errors.unverified_identities(region, failing, max_listed=max_listed)


def _as_address(value: EmailAddress | str) -> EmailAddress:
    return value if isinstance(value, EmailAddress) else parse_address(value)
