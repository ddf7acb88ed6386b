"""Which hosts to try, in which order: MX preference, implicit MX, null MX and static routes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.delivery import outcomes
from sendtrail.core.delivery.mx import (
    Hop,
    MxLookup,
    PlanSource,
    parse_route,
    plan_from_mx,
    static_route,
    try_next_host,
)


def test_given_mx_records_then_hosts_by_ascending_preference_on_the_configured_port() -> None:
    plan = plan_from_mx(
        "Example.COM.",
        MxLookup.FOUND,
        [(20, "mx2.example.com."), (10, "MX1.example.com."), (30, "mx3.example.com")],
        smtp_port=2525,
    )

    assert plan.source == PlanSource.MX and plan.domain == "example.com"
    assert plan.hops == (
        Hop("mx1.example.com", 2525),
        Hop("mx2.example.com", 2525),
        Hop("mx3.example.com", 2525),
    )
    assert plan.outcome is None


def test_given_equal_preferences_then_the_seed_decides_the_order_and_all_orders_occur() -> None:
    records = [(10, "a.example"), (10, "b.example"), (10, "c.example"), (5, "first.example")]

    orders = {plan_from_mx("example", "found", records, seed=seed).hops for seed in range(60)}

    assert len(orders) == 6  # every permutation of the three tied hosts
    assert all(hops[0] == Hop("first.example", 25) for hops in orders)
    assert plan_from_mx("example", "found", records, seed=7) == plan_from_mx(
        "example", "found", records, seed=7
    )


def test_given_a_host_listed_twice_then_tried_once_at_its_best_preference() -> None:
    plan = plan_from_mx("example.com", "found", [(20, "mx.example.com"), (10, "MX.example.com.")])

    assert plan.hops == (Hop("mx.example.com", 25),)


def test_given_no_mx_then_the_domain_itself_is_the_implicit_mx() -> None:
    plan = plan_from_mx("example.org", MxLookup.NO_MX, smtp_port=2600)

    assert plan.source == PlanSource.IMPLICIT_MX
    assert plan.hops == (Hop("example.org", 2600),)


@pytest.mark.parametrize("lookup", [MxLookup.NXDOMAIN, MxLookup.FAILED])
def test_given_nxdomain_or_lookup_failure_then_ses_soft_dns_failure(lookup: MxLookup) -> None:
    plan = plan_from_mx("mailinatorc.com", lookup)

    assert plan.source == PlanSource.NONE and plan.hops == ()
    assert plan.outcome == outcomes.dns_failure("mailinatorc.com")
    assert plan.outcome is not None and plan.outcome.kind == "soft"


def test_given_a_single_null_mx_then_hard_bounce_without_hosts() -> None:
    plan = plan_from_mx("example.com", MxLookup.FOUND, [(0, ".")])

    assert plan.hops == ()
    assert plan.outcome is not None
    assert (plan.outcome.kind, plan.outcome.status) == ("hard", "5.1.10")


def test_given_a_null_mx_beside_real_hosts_then_only_the_real_hosts() -> None:
    plan = plan_from_mx("example.com", "found", [(0, "."), (10, "mx.example.com")])

    assert plan.hops == (Hop("mx.example.com", 25),) and plan.outcome is None


def test_given_a_static_route_then_it_replaces_mx_lookup() -> None:
    routes = {"Relay.Example": "127.0.0.1:2600", "v6.example": "[::1]:2601"}

    plan = static_route("relay.example.", routes, 25)

    assert plan is not None and plan.source == PlanSource.ROUTE
    assert plan.hops == (Hop("127.0.0.1", 2600),)
    v6 = static_route("v6.example", routes, 25)
    assert v6 is not None and v6.hops == (Hop("::1", 2601),)
    assert static_route("sub.relay.example", routes, 25) is None


@pytest.mark.parametrize(
    ("value", "hop"),
    [
        ("smtp.example.net:587", Hop("smtp.example.net", 587)),
        ("smtp.example.net", Hop("smtp.example.net", 25)),
        ("[2001:db8::1]", Hop("2001:db8::1", 25)),
        ("2001:db8::1", Hop("2001:db8::1", 25)),
    ],
)
def test_route_values_parse(value: str, hop: Hop) -> None:
    assert parse_route(value, 25) == hop


@pytest.mark.parametrize("value", ["", ":25", "host:0", "host:70000", "host:smtp", "[::1]x"])
def test_bad_route_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_route(value, 25)


def test_failures_before_the_transaction_move_on_to_the_next_host() -> None:
    assert try_next_host(outcomes.connection_refused())
    assert try_next_host(outcomes.classify_reply("connect", 554, "5.7.1 no service here"))
    assert try_next_host(outcomes.tls_not_offered("mx.example.com"))
    assert not try_next_host(outcomes.classify_reply("rcpt", 550, "5.1.1 user unknown"))
    assert not try_next_host(outcomes.classify_reply("rcpt", 451, "4.7.1 greylisted"))
    assert not try_next_host(outcomes.classify_reply("data_end", 250, "ok"))


@given(
    records=st.lists(
        st.tuples(st.integers(0, 65535), st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True)),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(),
)
def test_any_answer_gives_every_host_once_in_preference_order(
    records: list[tuple[int, str]], seed: int
) -> None:
    plan = plan_from_mx("example", "found", records, seed=seed)

    best = {}
    for preference, host in records:
        best[host] = min(preference, best.get(host, preference))
    assert sorted(hop.host for hop in plan.hops) == sorted(best)
    preferences = [best[hop.host] for hop in plan.hops]
    assert preferences == sorted(preferences)
