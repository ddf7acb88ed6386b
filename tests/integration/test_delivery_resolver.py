"""Resolution against a real (loopback) DNS server: MX order, implicit MX, null MX, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from support.dns_server import LoopbackDnsServer

from sendtrail.adapters.delivery.resolver import DnsResolver, parse_nameserver
from sendtrail.core.delivery.mx import Hop, PlanSource
from sendtrail.core.delivery.outcomes import OutcomeKind

ZONE = {
    "multi.test": {"MX": ["20 backup.multi.test.", "10 primary.multi.test."]},
    "primary.multi.test": {"A": ["127.0.0.2"]},
    "backup.multi.test": {"A": ["127.0.0.3"], "AAAA": ["::1"]},
    "implicit.test": {"A": ["127.0.0.4"]},
    "nullmx.test": {"MX": ["0 ."]},
}


@pytest.fixture(scope="module")
def dns() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer(ZONE, ttl=60, servfail=["broken.test"], silent=["slow.test"]) as dns:
        yield dns


def resolver(
    dns: LoopbackDnsServer,
    clock: list[float] | None = None,
    routes: dict[str, str] | None = None,
) -> DnsResolver:
    now = clock if clock is not None else [0.0]
    return DnsResolver(
        [dns.address], timeout=0.5, smtp_port=2525, routes=routes, clock=lambda: now[0]
    )


def test_mx_hosts_come_in_preference_order_with_their_addresses(dns: LoopbackDnsServer) -> None:
    async def scenario() -> None:
        subject = resolver(dns)
        plan = await subject.plan("Multi.Test")
        assert plan.source is PlanSource.MX
        assert plan.hops == (Hop("primary.multi.test", 2525), Hop("backup.multi.test", 2525))
        assert await subject.addresses("backup.multi.test") == ["127.0.0.3", "::1"]

    asyncio.run(scenario())


def test_a_domain_without_mx_receives_its_own_mail(dns: LoopbackDnsServer) -> None:
    async def scenario() -> None:
        subject = resolver(dns)
        plan = await subject.plan("implicit.test")
        assert plan.source is PlanSource.IMPLICIT_MX  # RFC 5321 §5.1
        assert plan.hops == (Hop("implicit.test", 2525),)
        assert await subject.addresses("implicit.test") == ["127.0.0.4"]

    asyncio.run(scenario())


def test_null_mx_is_a_hard_bounce_at_once(dns: LoopbackDnsServer) -> None:
    plan = asyncio.run(resolver(dns).plan("nullmx.test"))
    assert plan.outcome is not None
    assert plan.outcome.kind is OutcomeKind.HARD
    assert plan.outcome.status == "5.1.10"  # RFC 7505


@pytest.mark.parametrize("domain", ["missing.test", "broken.test", "slow.test"])
def test_nxdomain_servfail_and_timeouts_are_soft_and_worded_as_ses(
    dns: LoopbackDnsServer, domain: str
) -> None:
    plan = asyncio.run(resolver(dns).plan(domain))
    assert plan.outcome is not None
    assert plan.outcome.kind is OutcomeKind.SOFT
    assert plan.outcome.diagnostic_code == f"smtp; 421 4.4.0 Unable to lookup DNS for {domain}"


def test_answers_are_cached_for_their_ttl_and_shared_by_concurrent_lookups(
    dns: LoopbackDnsServer,
) -> None:
    clock = [100.0]

    async def scenario() -> None:
        subject = resolver(dns, clock)
        before = dns.count("multi.test", "MX")
        await asyncio.gather(*(subject.plan("multi.test") for _ in range(20)))
        assert dns.count("multi.test", "MX") == before + 1
        clock[0] += 59  # still within the 60 s TTL
        await subject.plan("multi.test")
        assert dns.count("multi.test", "MX") == before + 1
        clock[0] += 2
        await subject.plan("multi.test")
        assert dns.count("multi.test", "MX") == before + 2

    asyncio.run(scenario())


def test_routes_and_address_literals_need_no_dns(dns: LoopbackDnsServer) -> None:
    async def scenario() -> None:
        subject = resolver(dns, routes={"relay.test": "127.0.0.9:2600"})
        queries = len(dns.queries)
        routed = await subject.plan("Relay.Test")
        assert routed.source is PlanSource.ROUTE
        assert routed.hops == (Hop("127.0.0.9", 2600),)
        literal = await subject.plan("[127.0.0.7]")
        assert literal.hops == (Hop("127.0.0.7", 2525),)
        assert await subject.addresses("127.0.0.9") == ["127.0.0.9"]
        assert len(dns.queries) == queries

    asyncio.run(scenario())


def test_nameservers_are_parsed_with_their_ports() -> None:
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("127.0.0.53") == ("127.0.0.53", 53)
    with pytest.raises(ValueError):
        parse_nameserver("ns.example.com:53")
