"""Result types of the feedback classifier.

They are plain frozen msgspec Structs so the rest of the engine can store them in events,
encode them to JSON and compare them without any parsing state attached.
"""

from __future__ import annotations

import msgspec

KIND_BOUNCE = "bounce"
KIND_COMPLAINT = "complaint"
KIND_AUTOREPLY = "autoreply"
KIND_DELIVERED = "delivered"
KIND_UNKNOWN = "unknown"

KINDS = (KIND_BOUNCE, KIND_COMPLAINT, KIND_AUTOREPLY, KIND_DELIVERED, KIND_UNKNOWN)

PERMANENT = "Permanent"
TRANSIENT = "Transient"
UNDETERMINED = "Undetermined"

BOUNCE_TYPES = (PERMANENT, TRANSIENT, UNDETERMINED)

BOUNCE_SUBTYPES = (
    "General",
    "NoEmail",
    "Suppressed",
    "OnAccountSuppressionList",
    "MailboxFull",
    "MessageTooLarge",
    "ContentRejected",
    "AttachmentRejected",
    "Undetermined",
)


class RecipientVerdict(msgspec.Struct, frozen=True):
    """What the report says about one recipient of the original message."""

    recipient: str | None
    action: str | None = None
    status: str | None = None
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    diagnostic_code: str | None = None
    remote_mta: str | None = None


class FeedbackReport(msgspec.Struct, frozen=True):
    """The structured verdict for one raw feedback message."""

    kind: str
    recipients: tuple[RecipientVerdict, ...] = ()
    reporting_mta: str | None = None
    original_message_id: str | None = None
    original_references: tuple[str, ...] = ()
    original_recipients: tuple[str, ...] = ()
    reporting_domain: str | None = None
    feedback_type: str | None = None
    user_agent: str | None = None
    arrival_date: str | None = None
    subject: str | None = None


UNKNOWN_REPORT = FeedbackReport(kind=KIND_UNKNOWN)
