"""Which hosts to try for a recipient domain, in which order (RFC 5321 §5.1, RFC 7505).

The adapter does the lookups; this module only decides. The flow is:

    plan = static_route(domain, routes, smtp_port)
    if plan is None:
        lookup, records = <resolve MX of domain>
        plan = plan_from_mx(domain, lookup, records, smtp_port=smtp_port, seed=<random int>)
    if plan.outcome is not None: <report plan.outcome for every recipient of the domain>
    else: for hop in plan.hops: <resolve A/AAAA of hop.host, connect to hop.port, ...>
          and move to the next hop only while try_next_host(outcome) says so.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from enum import StrEnum

import msgspec

from sendtrail.core.delivery.outcomes import (
    AttemptOutcome,
    OutcomeKind,
    Phase,
    dns_failure,
    null_mx,
)


class MxLookup(StrEnum):
    """What the MX query for the domain returned."""

    FOUND = "found"  # at least one MX record
    NO_MX = "no_mx"  # the domain exists but has no MX: deliver to its A/AAAA ("implicit MX")
    NXDOMAIN = "nxdomain"  # the domain does not exist
    FAILED = "failed"  # SERVFAIL, timeout or any other lookup error


class PlanSource(StrEnum):
    ROUTE = "route"  # a `[delivery.routes]` entry
    MX = "mx"
    IMPLICIT_MX = "implicit_mx"  # no MX: the domain itself, RFC 5321 §5.1
    NONE = "none"  # nothing to try: see `DeliveryPlan.outcome`


class Hop(msgspec.Struct, frozen=True):
    host: str  # a host name or an IP literal (without brackets)
    port: int


class DeliveryPlan(msgspec.Struct, frozen=True, kw_only=True):
    domain: str
    source: PlanSource
    hops: tuple[Hop, ...] = ()  # in the order to try
    outcome: AttemptOutcome | None = None  # set exactly when `hops` is empty


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


def parse_route(value: str, default_port: int) -> Hop:
    """A `[delivery.routes]` value: `host:port`, `[v6 literal]:port`, or a bare host."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:  # a bare name, or a bare IPv6 literal (several colons, no port)
        host, port_text = value, ""
    host = _normalise(host)
    if not host:
        raise ValueError(f"route has no host: {value!r}")
    if not port_text:
        return Hop(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"route has a bad port: {value!r}")
    return Hop(host, int(port_text))


def static_route(domain: str, routes: Mapping[str, str], smtp_port: int) -> DeliveryPlan | None:
    """The configured next hop for `domain`, which replaces the MX lookup, if there is one.

    Matching is exact (case and a trailing dot aside): a route for `example.com` does not
    cover `mail.example.com`, as with Postfix's transport maps without parent matching.
    """
    wanted = _normalise(domain)
    for routed, value in routes.items():
        if _normalise(routed) == wanted:
            return DeliveryPlan(
                domain=wanted, source=PlanSource.ROUTE, hops=(parse_route(value, smtp_port),)
            )
    return None


def _is_null_host(host: str) -> bool:
    return _normalise(host) == ""


def plan_from_mx(
    domain: str,
    lookup: MxLookup | str,
    records: Sequence[tuple[int, str]] = (),
    *,
    smtp_port: int = 25,
    seed: int = 0,
) -> DeliveryPlan:
    """Hosts to try for `domain` given its MX answer.

    Records are tried by ascending preference; equal preferences are shuffled with `seed` so
    load spreads across them (RFC 5321 §5.1) while a given seed always gives the same order.
    """
    domain = _normalise(domain)
    lookup = MxLookup(lookup)
    if lookup in (MxLookup.NXDOMAIN, MxLookup.FAILED):
        # SES treats a missing domain as a soft bounce and keeps trying (section 7 of the notes).
        return DeliveryPlan(domain=domain, source=PlanSource.NONE, outcome=dns_failure(domain))
    if lookup is MxLookup.FOUND and records:
        # RFC 7505: a lone "." MX means "no mail here". Mixed with real hosts it is a
        # misconfiguration; the "." cannot be connected to, so only the real hosts are kept.
        usable = [(pref, _normalise(host)) for pref, host in records if not _is_null_host(host)]
        if not usable:
            return DeliveryPlan(domain=domain, source=PlanSource.NONE, outcome=null_mx(domain))
        return DeliveryPlan(
            domain=domain, source=PlanSource.MX, hops=_ordered_hops(usable, smtp_port, seed)
        )
    return DeliveryPlan(
        domain=domain, source=PlanSource.IMPLICIT_MX, hops=(Hop(domain, smtp_port),)
    )


def _ordered_hops(records: list[tuple[int, str]], port: int, seed: int) -> tuple[Hop, ...]:
    rng = random.Random(seed)  # a private generator: deterministic for the seed, no global state
    by_preference: dict[int, list[str]] = {}
    for preference, host in sorted(records):
        by_preference.setdefault(preference, []).append(host)
    ordered: list[str] = []
    for preference in sorted(by_preference):
        group = by_preference[preference]
        rng.shuffle(group)
        for host in group:
            if host not in ordered:  # a host listed twice keeps its best preference
                ordered.append(host)
    return tuple(Hop(host, port) for host in ordered)


# Failures before the mail transaction starts are about the host, not the message, so another
# MX may do better (RFC 5321 §5.1; a 554 greeting means "no service here", §3.1). Once MAIL FROM
# has been answered, the remote has judged the message and its verdict stands.
_HOST_PHASES = frozenset({Phase.CONNECT, Phase.EHLO, Phase.STARTTLS})


def try_next_host(outcome: AttemptOutcome) -> bool:
    """Whether the adapter should try the plan's next hop after this outcome."""
    return outcome.kind is not OutcomeKind.DELIVERED and outcome.phase in _HOST_PHASES
