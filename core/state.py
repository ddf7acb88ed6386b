"""A message's state, folded from its events: ``evolve(state, event) -> state``.

Each recipient follows the lifecycle on its own; the message's view is derived from them.
``evolve`` checks every move against the compiled lifecycle, so a log that records an
illegal move cannot be folded silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from . import events as ev
from .lifecycle import TERMINAL_STATES, IllegalTransition, State, next_state

# Recipients in these states still wait for an attempt (or for one to end).
AWAITING_DELIVERY = frozenset({State.ACCEPTED, State.SENDING, State.SOFT_BOUNCED})
SETTLED_STATES = frozenset(
    {State.DELIVERED, State.AUTO_REPLIED} | TERMINAL_STATES,
)


class RecipientState(msgspec.Struct, frozen=True, kw_only=True):
    address: str
    status: State
    updated_at: datetime
    attempts: int = 0
    first_attempt_at: datetime | None = None
    due_at: datetime | None = None
    expires_at: datetime | None = None
    last_status: str | None = None
    last_diagnostic: str | None = None
    smtp_response: str | None = None
    bounce_type: str | None = None
    bounce_subtype: str | None = None

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


class MessageState(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    version: int
    requested_at: datetime
    updated_at: datetime
    source: str
    recipients: dict[str, RecipientState]
    configuration_set: str | None = None
    content_sha256: str | None = None
    operation: str = "SendEmail"
    expires_at: datetime | None = None
    # Set by MessagePrepared: the assembled, signed, scanned MIME that is delivered.
    outgoing_sha256: str | None = None
    header_message_id: str | None = None
    # How the request itself was judged: what a message without valid recipients shows.
    verdict: State = State.REQUESTED

    @property
    def status(self) -> str:
        """The message's own view: the recipients' common state, or ``partial``."""
        states = {r.status for r in self.recipients.values()}
        if not states:
            return self.verdict.value
        return next(iter(states)).value if len(states) == 1 else "partial"

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.status.value for r in self.recipients.values()))

    def recipient(self, address: str) -> RecipientState:
        try:
            return self.recipients[address]
        except KeyError:
            raise UnknownRecipient(self.message_id, address) from None


class UnknownRecipient(KeyError):
    def __init__(self, message_id: str, address: str) -> None:
        super().__init__(f"{address} is not a recipient of message {message_id}")
        self.message_id = message_id
        self.address = address


class NoSuchMessage(LookupError):
    """An event other than ``SendRequested`` for a message that was never requested."""


_replace = msgspec.structs.replace


def evolve(state: MessageState | None, event: ev.Event) -> MessageState:
    """The message after ``event``; raises ``IllegalTransition`` for a move not allowed."""
    kind = type(event)
    if kind is ev.SendRequested:
        if state is not None:
            raise IllegalTransition(state.status, "SendRequested")
        return _requested(event)  # type: ignore[arg-type]
    if state is None:
        raise NoSuchMessage(f"{kind.__name__} before SendRequested")
    try:
        apply = _APPLY[kind]
    except KeyError:
        raise TypeError(f"evolve does not know {kind.__name__}") from None
    return apply(state, event, kind.__name__)


def _accepted(state: MessageState, event: ev.SendAccepted, trigger: str) -> MessageState:
    if state.verdict is not State.REQUESTED:
        raise IllegalTransition(state.verdict, trigger)
    moved = _move_all(state, trigger, event.at, due_at=event.at, expires_at=event.expires_at)
    return _replace(
        state,
        version=state.version + 1,
        updated_at=event.at,
        recipients=moved,
        expires_at=event.expires_at,
        verdict=State.ACCEPTED,
    )


def _prepared(state: MessageState, event: ev.MessagePrepared, trigger: str) -> MessageState:
    """Not a lifecycle move: legal once, while no recipient has been attempted yet."""
    if state.outgoing_sha256 is not None:
        raise IllegalTransition(state.status, trigger)
    for recipient in state.recipients.values():
        if recipient.status not in (State.ACCEPTED, State.HARD_BOUNCED):
            raise IllegalTransition(recipient.status, trigger)
    return _replace(
        state,
        version=state.version + 1,
        updated_at=event.at,
        outgoing_sha256=event.content_sha256,
        header_message_id=event.header_message_id,
    )


def _stopped(state: MessageState, event: ev.Event, trigger: str) -> MessageState:
    # The request is judged once; the scan or the template can stop only an accepted one.
    required = State.REQUESTED if isinstance(event, ev.SendRejected) else State.ACCEPTED
    if state.verdict is not required:
        raise IllegalTransition(state.verdict, trigger)
    moved = _move_all(state, trigger, event.at, due_at=None)
    return _replace(
        state,
        version=state.version + 1,
        updated_at=event.at,
        recipients=moved,
        verdict=State.REJECTED,
    )


def _attempted(state: MessageState, event: ev.AttemptStarted, trigger: str) -> MessageState:
    recipients = dict(state.recipients)
    for address in event.recipients:
        current = state.recipient(address)
        recipients[address] = _replace(
            current,
            status=next_state(current.status, trigger),
            updated_at=event.at,
            attempts=current.attempts + 1,
            first_attempt_at=current.first_attempt_at or event.at,
            due_at=event.lease_until,
        )
    return _replace(state, version=state.version + 1, updated_at=event.at, recipients=recipients)


def _delivered(state: MessageState, event: ev.RecipientDelivered, trigger: str) -> MessageState:
    return _move_one(
        state,
        event.recipient,
        trigger,
        event.at,
        due_at=None,
        smtp_response=event.smtp_response,
        last_status=_status_of(event.smtp_response),
        last_diagnostic=None,
    )


def _deferred(state: MessageState, event: ev.RecipientDeferred, trigger: str) -> MessageState:
    return _move_one(
        state,
        event.recipient,
        trigger,
        event.at,
        due_at=event.next_attempt_at,
        last_status=event.status,
        last_diagnostic=event.diagnostic_code,
    )


def _bounced(
    state: MessageState, event: ev.RecipientSuppressed | ev.BounceEvent, trigger: str
) -> MessageState:
    return _move_one(
        state,
        event.recipient,
        trigger,
        event.at,
        due_at=None,
        last_status=event.status,
        last_diagnostic=event.diagnostic_code,
        bounce_type=event.bounce_type,
        bounce_subtype=event.bounce_subtype,
    )


def _reported(
    state: MessageState, event: ev.ComplaintReported | ev.AutoReplyReported, trigger: str
) -> MessageState:
    return _move_one(state, event.recipient, trigger, event.at, due_at=None)


_APPLY: dict[type, Callable[[MessageState, Any, str], MessageState]] = {
    ev.SendAccepted: _accepted,
    ev.MessagePrepared: _prepared,
    ev.SendRejected: _stopped,
    ev.ContentRejected: _stopped,
    ev.RenderingFailed: _stopped,
    ev.AttemptStarted: _attempted,
    ev.RecipientDelivered: _delivered,
    ev.RecipientDeferred: _deferred,
    ev.RecipientSuppressed: _bounced,
    ev.RecipientBounced: _bounced,
    ev.DeliveryExpired: _bounced,
    ev.BounceReported: _bounced,
    ev.ComplaintReported: _reported,
    ev.AutoReplyReported: _reported,
}


def fold(events: list[ev.Event], state: MessageState | None = None) -> MessageState | None:
    for event in events:
        state = evolve(state, event)
    return state


def _requested(event: ev.SendRequested) -> MessageState:
    recipients = {
        address: RecipientState(address=address, status=State.REQUESTED, updated_at=event.at)
        for address in event.destinations
    }
    return MessageState(
        message_id=event.message_id,
        version=1,
        requested_at=event.at,
        updated_at=event.at,
        source=event.source,
        recipients=recipients,
        configuration_set=event.configuration_set,
        content_sha256=event.content_sha256,
        operation=event.operation,
    )


def _move_all(
    state: MessageState,
    trigger: str,
    at: datetime,
    *,
    due_at: datetime | None,
    expires_at: datetime | None = None,
) -> dict[str, RecipientState]:
    return {
        address: _replace(
            recipient,
            status=next_state(recipient.status, trigger),
            updated_at=at,
            due_at=due_at,
            expires_at=expires_at if expires_at is not None else recipient.expires_at,
        )
        for address, recipient in state.recipients.items()
    }


def _move_one(
    state: MessageState,
    address: str,
    trigger: str,
    at: datetime,
    **changes: object,
) -> MessageState:
    current = state.recipient(address)
    recipients = dict(state.recipients)
    recipients[address] = _replace(
        current, status=next_state(current.status, trigger), updated_at=at, **changes
    )
    return _replace(state, version=state.version + 1, updated_at=at, recipients=recipients)


def _status_of(smtp_response: str) -> str | None:
    """The enhanced status code in a reply such as ``250 2.6.0 Message received``."""
    parts = smtp_response.split(maxsplit=2)
    if len(parts) >= 2 and parts[1].count(".") == 2 and parts[1][0].isdigit():
        return parts[1]
    return None
