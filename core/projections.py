"""The read models sendtrail serves, as pure functions of a message's folded state.

A projection row is computed only from ``MessageState``; the adapters store the rows. The
live path and a rebuild from the log run the very same functions, which is what makes a
rebuild equal to the live state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from .state import MessageState, RecipientState

MESSAGE_COLUMNS: Final = (
    "message_id",
    "source",
    "status",
    "recipient_count",
    "configuration_set",
    "content_sha256",
    "requested_at",
    "updated_at",
    "expires_at",
    "outgoing_sha256",
    "header_message_id",
    "version",
)
RECIPIENT_COLUMNS: Final = (
    "message_id",
    "address",
    "domain",
    "status",
    "attempts",
    "first_attempt_at",
    "due_at",
    "expires_at",
    "last_status",
    "last_diagnostic",
    "smtp_response",
    "bounce_type",
    "bounce_subtype",
    "updated_at",
)
# The stored row has one column more than the view: ``ordinal``, the recipient's place in
# the request (its first mention among the destinations), so every database lists a
# message's recipients in the order they were asked for, however often their rows change.
RECIPIENT_TABLE_COLUMNS: Final = (*RECIPIENT_COLUMNS, "ordinal")
QUEUE_COLUMNS: Final = ("message_id", "address", "domain", "status", "due_at")

MessageRow = tuple[object, ...]
RecipientRow = tuple[object, ...]


def timestamp(when: datetime | None) -> str | None:
    """Fixed-width UTC text (``2026-01-05T09:30:00.000000+00:00``): sorts as it compares."""
    if when is None:
        return None
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    return when.isoformat(timespec="microseconds")


Stamp = Callable[[datetime | None], str | None]


def batch_timestamps() -> Stamp:
    """``timestamp`` remembering its answers: the events of one commit share their times."""
    seen: dict[datetime | None, str | None] = {None: None}

    def stamp(when: datetime | None) -> str | None:
        text = seen.get(when)
        if text is None and when is not None:
            text = seen[when] = timestamp(when)
        return text

    return stamp


def message_row(state: MessageState, stamp: Stamp = timestamp) -> MessageRow:
    return (
        state.message_id,
        state.source,
        state.status,
        len(state.recipients),
        state.configuration_set,
        state.content_sha256,
        stamp(state.requested_at),
        stamp(state.updated_at),
        stamp(state.expires_at),
        state.outgoing_sha256,
        state.header_message_id,
        state.version,
    )


def recipient_row(
    message_id: str, recipient: RecipientState, ordinal: int, stamp: Stamp = timestamp
) -> RecipientRow:
    """The row of ``RECIPIENT_TABLE_COLUMNS``."""
    return (
        message_id,
        recipient.address,
        recipient.domain,
        recipient.status.value,
        recipient.attempts,
        stamp(recipient.first_attempt_at),
        stamp(recipient.due_at),
        stamp(recipient.expires_at),
        recipient.last_status,
        recipient.last_diagnostic,
        recipient.smtp_response,
        recipient.bounce_type,
        recipient.bounce_subtype,
        stamp(recipient.updated_at),
        ordinal,
    )


def recipient_ordinals(state: MessageState) -> dict[str, int]:
    """Each recipient's place in the request: ``evolve`` keeps the recipients in the order
    ``SendRequested`` named them (a dict updated in place keeps its order)."""
    return {address: ordinal for ordinal, address in enumerate(state.recipients)}


def changed_recipients(
    before: MessageState | None, after: MessageState
) -> list[tuple[int, RecipientState]]:
    """Recipients whose row differs between two states of the same message, each with its
    ordinal (see ``recipient_ordinals``)."""
    old = {} if before is None else before.recipients
    return [
        (ordinal, recipient)
        for ordinal, (address, recipient) in enumerate(after.recipients.items())
        if old.get(address) is not recipient
    ]
