"""The lifecycle declaration: legal moves, illegal ones, terminal states, the diagram."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendtrail.adapters.docgen import lifecycle_block
from sendtrail.core.lifecycle import (
    NEXT_STATE,
    TERMINAL_STATES,
    IllegalTransition,
    State,
    Trigger,
    build_machine,
    mermaid_diagram,
    next_state,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_the_nine_states_of_the_design_card() -> None:
    assert [s.value for s in State] == [
        "requested",
        "accepted",
        "rejected",
        "sending",
        "delivered",
        "soft-bounced",
        "hard-bounced",
        "complained",
        "auto-replied",
    ]


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (State.REQUESTED, Trigger.ACCEPT, State.ACCEPTED),
        (State.REQUESTED, Trigger.REJECT, State.REJECTED),
        (State.ACCEPTED, Trigger.REJECT_CONTENT, State.REJECTED),
        (State.ACCEPTED, Trigger.SUPPRESS, State.HARD_BOUNCED),
        (State.ACCEPTED, Trigger.START_ATTEMPT, State.SENDING),
        (State.SENDING, Trigger.DELIVER, State.DELIVERED),
        (State.SENDING, Trigger.DEFER, State.SOFT_BOUNCED),
        (State.SENDING, Trigger.BOUNCE, State.HARD_BOUNCED),
        (State.SOFT_BOUNCED, Trigger.START_ATTEMPT, State.SENDING),
        (State.SOFT_BOUNCED, Trigger.EXPIRE, State.HARD_BOUNCED),
        (State.SENDING, Trigger.START_ATTEMPT, State.SENDING),
        (State.DELIVERED, Trigger.REPORT_BOUNCE, State.HARD_BOUNCED),
        (State.DELIVERED, Trigger.REPORT_COMPLAINT, State.COMPLAINED),
        (State.DELIVERED, Trigger.REPORT_AUTO_REPLY, State.AUTO_REPLIED),
        (State.AUTO_REPLIED, Trigger.REPORT_COMPLAINT, State.COMPLAINED),
    ],
)
def test_given_a_state_when_a_legal_trigger_then_the_declared_next_state(
    state: State, trigger: Trigger, expected: State
) -> None:
    assert next_state(state, trigger) == expected


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        (State.REQUESTED, Trigger.DELIVER),
        (State.ACCEPTED, Trigger.DELIVER),
        (State.DELIVERED, Trigger.START_ATTEMPT),
        (State.SOFT_BOUNCED, Trigger.DELIVER),
        (State.HARD_BOUNCED, Trigger.REPORT_COMPLAINT),
        (State.COMPLAINED, Trigger.REPORT_AUTO_REPLY),
        (State.REJECTED, Trigger.ACCEPT),
        (State.AUTO_REPLIED, Trigger.REPORT_AUTO_REPLY),
    ],
)
def test_an_illegal_trigger_raises_an_error_naming_state_and_event(
    state: State, trigger: Trigger
) -> None:
    with pytest.raises(IllegalTransition) as error:
        next_state(state, trigger)
    assert state.value in str(error.value)
    assert trigger.value in str(error.value)


def test_final_failures_rejections_and_complaints_absorb_everything() -> None:
    assert {State.REJECTED, State.HARD_BOUNCED, State.COMPLAINED} == TERMINAL_STATES
    for state in TERMINAL_STATES:
        for trigger in Trigger:
            assert (state, trigger) not in NEXT_STATE


def test_the_lookup_table_is_exactly_the_transitions_machine() -> None:
    machine = build_machine()
    declared = {
        (source, trigger, transition.dest)
        for trigger, event in machine.events.items()
        for source, transitions in event.transitions.items()
        for transition in transitions
    }
    compiled = {(source, trigger, dest.value) for (source, trigger), dest in NEXT_STATE.items()}
    assert compiled == declared
    every_state_reachable = {dest for (_, _, dest) in declared} | {State.REQUESTED.value}
    assert every_state_reachable == {s.value for s in State}


def test_docs_lifecycle_shows_the_diagram_generated_from_the_declaration() -> None:
    text = DOC.read_text(encoding="utf-8")
    expected = f"<!-- lifecycle:start -->\n{lifecycle_block()}<!-- lifecycle:end -->"
    assert expected in text, "docs/lifecycle.md is stale: run `make docs`"
    assert mermaid_diagram().count("-->") == len(NEXT_STATE) + 1 + len(TERMINAL_STATES)
