"""The per-recipient delivery lifecycle, declared once with ``transitions``.

``TRANSITIONS`` is the single specification. A ``transitions.Machine`` built from it
validates the declaration (unknown states, duplicate triggers) and draws the diagram in
``docs/lifecycle.md``; the hot path never builds a machine per message, it looks moves up
in ``NEXT_STATE``, a plain dict compiled from the same machine at import.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from transitions import Machine


class State(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SENDING = "sending"
    DELIVERED = "delivered"
    SOFT_BOUNCED = "soft-bounced"
    HARD_BOUNCED = "hard-bounced"
    COMPLAINED = "complained"
    AUTO_REPLIED = "auto-replied"


class Trigger(StrEnum):
    """What moves a recipient: each trigger is named after the event that records it."""

    ACCEPT = "SendAccepted"
    REJECT = "SendRejected"
    REJECT_CONTENT = "ContentRejected"
    FAIL_RENDERING = "RenderingFailed"
    SUPPRESS = "RecipientSuppressed"
    START_ATTEMPT = "AttemptStarted"
    DELIVER = "RecipientDelivered"
    DEFER = "RecipientDeferred"
    BOUNCE = "RecipientBounced"
    EXPIRE = "DeliveryExpired"
    REPORT_BOUNCE = "BounceReported"
    REPORT_COMPLAINT = "ComplaintReported"
    REPORT_AUTO_REPLY = "AutoReplyReported"


S, T = State, Trigger

TRANSITIONS: Final[list[dict[str, object]]] = [
    # The request is judged as a whole: every recipient is accepted or rejected with it.
    {"trigger": T.ACCEPT, "source": S.REQUESTED, "dest": S.ACCEPTED},
    {"trigger": T.REJECT, "source": S.REQUESTED, "dest": S.REJECTED},
    # After acceptance the content scan or template rendering may still stop the message.
    {"trigger": T.REJECT_CONTENT, "source": S.ACCEPTED, "dest": S.REJECTED},
    {"trigger": T.FAIL_RENDERING, "source": S.ACCEPTED, "dest": S.REJECTED},
    # A suppressed address is never attempted: SES answers with its own hard bounce.
    {"trigger": T.SUPPRESS, "source": S.ACCEPTED, "dest": S.HARD_BOUNCED},
    # A retry starts from soft-bounced; a crashed worker's attempt restarts from sending.
    {
        "trigger": T.START_ATTEMPT,
        "source": [S.ACCEPTED, S.SOFT_BOUNCED, S.SENDING],
        "dest": S.SENDING,
    },
    {"trigger": T.DELIVER, "source": S.SENDING, "dest": S.DELIVERED},
    {"trigger": T.DEFER, "source": S.SENDING, "dest": S.SOFT_BOUNCED},
    {"trigger": T.BOUNCE, "source": S.SENDING, "dest": S.HARD_BOUNCED},
    # The retry window closed: SES's Transient 4.4.7 expiry bounce, final like any other.
    {"trigger": T.EXPIRE, "source": S.SOFT_BOUNCED, "dest": S.HARD_BOUNCED},
    # News that arrives by mail after the receiving server took the message.
    {"trigger": T.REPORT_BOUNCE, "source": S.DELIVERED, "dest": S.HARD_BOUNCED},
    {
        "trigger": T.REPORT_COMPLAINT,
        "source": [S.DELIVERED, S.AUTO_REPLIED],
        "dest": S.COMPLAINED,
    },
    {"trigger": T.REPORT_AUTO_REPLY, "source": S.DELIVERED, "dest": S.AUTO_REPLIED},
]

INITIAL_STATE: Final = State.REQUESTED
# The event that starts a message: its recipients enter INITIAL_STATE.
START_EVENT: Final = "SendRequested"


class IllegalTransition(ValueError):
    """A trigger that the lifecycle does not allow from the recipient's current state."""

    def __init__(self, state: str, trigger: str) -> None:
        super().__init__(f"illegal transition: {trigger} is not allowed in state {state!r}")
        self.state = state
        self.trigger = trigger


def build_machine() -> Machine:
    """The declaration as a ``transitions`` machine (for validation and the diagram)."""
    return Machine(
        model=None,
        states=[s.value for s in State],
        transitions=[
            {
                "trigger": t["trigger"],
                "source": (
                    [str(s) for s in t["source"]]  # type: ignore[attr-defined]
                    if isinstance(t["source"], list)
                    else str(t["source"])
                ),
                "dest": str(t["dest"]),
            }
            for t in TRANSITIONS
        ],
        initial=INITIAL_STATE.value,
        auto_transitions=False,
        send_event=False,
    )


def _compile(machine: Machine) -> dict[tuple[str, str], State]:
    table: dict[tuple[str, str], State] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                table[(source, trigger)] = State(transition.dest)
    return table


NEXT_STATE: Final[dict[tuple[str, str], State]] = _compile(build_machine())

TERMINAL_STATES: Final[frozenset[State]] = frozenset(
    state for state in State if not any(src == state for src, _ in NEXT_STATE)
)

FINAL_FAILURE: Final = State.HARD_BOUNCED


def next_state(state: str, trigger: str) -> State:
    """Where ``trigger`` takes a recipient in ``state``; ``IllegalTransition`` otherwise."""
    try:
        return NEXT_STATE[(state, trigger)]
    except KeyError:
        raise IllegalTransition(state, trigger) from None


def mermaid_diagram() -> str:
    """The lifecycle as a mermaid state diagram, generated from the declaration."""
    lines = ["stateDiagram-v2"]
    lines += [f'    state "{state}" as {_node(state)}' for state in State if "-" in state]
    lines.append(f"    [*] --> {_node(INITIAL_STATE)}")
    for (source, trigger), dest in sorted(NEXT_STATE.items(), key=_diagram_order):
        lines.append(f"    {_node(source)} --> {_node(dest)}: {trigger}")
    for state in sorted(TERMINAL_STATES, key=list(State).index):
        lines.append(f"    {_node(state)} --> [*]")
    return "\n".join(lines) + "\n"


def _node(state: str) -> str:
    # Mermaid state ids may not contain '-'.
    return str(state).replace("-", "_")


def _diagram_order(item: tuple[tuple[str, str], State]) -> tuple[int, int, str]:
    (source, trigger), dest = item
    order = list(State)
    return order.index(State(source)), order.index(dest), trigger
