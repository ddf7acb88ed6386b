"""The read models sendtrail serves, as pure functions of a message's folded state.

A projection row is computed only from ``MessageState``; the adapters store the rows. The
live path and a rebuild from the log run the very same functions, which is what makes a
rebuild equal to the live state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from .state import AWAITING_DELIVERY, MessageState, RecipientState

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
QUEUE_COLUMNS: Final = ("message_id", "address", "domain", "status", "due_at")

MessageRow = tuple[object, ...]
RecipientRow = tuple[object, ...]
QueueRow = tuple[object, ...]


def timestamp(when: datetime | None) -> str | None:
    """Fixed-width UTC text, so that stored times sort and compare as strings."""
    if when is None:
        return None
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}Z"


def message_row(state: MessageState) -> MessageRow:
    return (
        state.message_id,
        state.source,
        state.status,
        len(state.recipients),
        state.configuration_set,
        state.content_sha256,
        timestamp(state.requested_at),
        timestamp(state.updated_at),
        timestamp(state.expires_at),
        state.version,
    )


def recipient_row(message_id: str, recipient: RecipientState) -> RecipientRow:
    return (
        message_id,
        recipient.address,
        recipient.domain,
        recipient.status.value,
        recipient.attempts,
        timestamp(recipient.first_attempt_at),
        timestamp(recipient.due_at),
        timestamp(recipient.expires_at),
        recipient.last_status,
        recipient.last_diagnostic,
        recipient.smtp_response,
        recipient.bounce_type,
        recipient.bounce_subtype,
        timestamp(recipient.updated_at),
    )


def queue_row(message_id: str, recipient: RecipientState) -> QueueRow | None:
    """The delivery-queue entry for a recipient, or None when nothing is left to attempt.

    Accepted recipients are due at once, soft-bounced ones at their next attempt, and those
    in ``sending`` when their attempt's lease runs out (a crashed worker's recipients come
    back by themselves).
    """
    if recipient.status not in AWAITING_DELIVERY or recipient.due_at is None:
        return None
    return (
        message_id,
        recipient.address,
        recipient.domain,
        recipient.status.value,
        timestamp(recipient.due_at),
    )


def changed_recipients(before: MessageState | None, after: MessageState) -> list[RecipientState]:
    """Recipients whose row differs between two states of the same message."""
    if before is None:
        return list(after.recipients.values())
    old = before.recipients
    return [r for address, r in after.recipients.items() if old.get(address) is not r]
