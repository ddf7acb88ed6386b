"""Recognise SES mailbox simulator addresses.

`bounce+label@Simulator.AmazonSES.com` is the bounce scenario: SES matches the local part
and domain without regard to case and ignores a `+label` (observed working with
`Success+Buyer@Simulator.AmazonSES.com`).

Another local part at a simulator domain (`hi@simulator.amazonses.com`) is not a scenario:
what SES does with one today is UNCONFIRMED (a 2014 payload shows a suppressed bounce), so
`simulator_scenario` returns None and `is_simulator_domain` lets the engine decide.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sendtrail.core.acceptance.addresses import EmailAddress

DEFAULT_SIMULATOR_DOMAINS: frozenset[str] = frozenset({"simulator.amazonses.com"})


class SimulatorScenario(enum.StrEnum):
    SUCCESS = "success"
    BOUNCE = "bounce"
    OOTO = "ooto"
    COMPLAINT = "complaint"
    SUPPRESSION_LIST = "suppressionlist"


def simulator_scenario(
    address: EmailAddress | str,
    domains: Iterable[str] = DEFAULT_SIMULATOR_DOMAINS,
) -> SimulatorScenario | None:
    """The scenario an address asks for, or None for an ordinary address.

    A string is taken as a bare address (`local@domain`, optionally in `<>`); pass an
    `EmailAddress` for anything with a display name.
    """
    local, domain = _split(address)
    if domain is None or not is_simulator_domain(domain, domains):
        return None
    try:
        return SimulatorScenario(local.split("+", 1)[0].lower())
    except ValueError:
        return None


def is_simulator_domain(domain: str, domains: Iterable[str] = DEFAULT_SIMULATOR_DOMAINS) -> bool:
    wanted = domain.lower()
    return any(wanted == configured.lower() for configured in domains)


def _split(address: EmailAddress | str) -> tuple[str, str | None]:
    if isinstance(address, EmailAddress):
        return address.local_part, address.domain
    bare = address.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    local, at, domain = bare.rpartition("@")
    if not at:
        return bare, None
    return local, domain
