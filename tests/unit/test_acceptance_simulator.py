"""Mailbox simulator address recognition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.acceptance.addresses import parse_address
from sendtrail.core.acceptance.simulator import (
    SimulatorScenario,
    is_simulator_domain,
    simulator_scenario,
)


@pytest.mark.parametrize(
    ("address", "scenario"),
    [
        ("success@simulator.amazonses.com", SimulatorScenario.SUCCESS),
        ("bounce@simulator.amazonses.com", SimulatorScenario.BOUNCE),
        ("ooto@simulator.amazonses.com", SimulatorScenario.OOTO),
        ("complaint@simulator.amazonses.com", SimulatorScenario.COMPLAINT),
        ("suppressionlist@simulator.amazonses.com", SimulatorScenario.SUPPRESSION_LIST),
        ("Success+Buyer@Simulator.AmazonSES.com", SimulatorScenario.SUCCESS),
        ("bounce+label1@simulator.amazonses.com", SimulatorScenario.BOUNCE),
        ("<complaint@simulator.amazonses.com>", SimulatorScenario.COMPLAINT),
    ],
)
def test_simulator_addresses_name_their_scenario(address: str, scenario: SimulatorScenario) -> None:
    assert simulator_scenario(address) is scenario


@pytest.mark.parametrize(
    "address",
    [
        "hi@simulator.amazonses.com",  # unknown local part: UNCONFIRMED, treated as ordinary
        "bounce@example.com",
        "bounce@simulator.amazonses.com.evil.com",
        "success",
    ],
)
def test_other_addresses_are_not_simulator_scenarios(address: str) -> None:
    assert simulator_scenario(address) is None


def test_parsed_addresses_with_display_names_are_recognised() -> None:
    address = parse_address("Test Bounce <Bounce+x@SIMULATOR.amazonses.com>")
    assert simulator_scenario(address) is SimulatorScenario.BOUNCE


def test_configured_simulator_domains_replace_the_default() -> None:
    # Given an engine configured with its own simulator domain
    domains = ["sim.sendtrail.test"]
    # Then addresses there are scenarios and the SES domain is not
    assert simulator_scenario("ooto@SIM.sendtrail.test", domains) is SimulatorScenario.OOTO
    assert simulator_scenario("ooto@simulator.amazonses.com", domains) is None
    assert is_simulator_domain("Sim.Sendtrail.Test", domains)


@given(
    scenario=st.sampled_from(list(SimulatorScenario)),
    label=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_+", max_size=10),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_any_case_and_label_keeps_the_scenario(
    scenario: SimulatorScenario, label: str, flips: list[bool]
) -> None:
    # Given a scenario address in any letter case, with or without a label
    text = f"{scenario.value}{'+' + label if label else ''}@simulator.amazonses.com"
    text = "".join(ch.upper() if flip else ch for ch, flip in zip(text, flips * 3, strict=False))
    # Then the scenario is recognised
    assert simulator_scenario(text) is scenario
