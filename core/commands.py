"""What the outside world asks or reports, addressed to one message.

A command carries everything ``decide`` needs besides the message's state and the time:
ids, configuration and any random draw are chosen by the adapter and passed in.
"""

from __future__ import annotations

import msgspec

from .events import Tag


class Command(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str


class Rejection(msgspec.Struct, frozen=True):
    """An SES error that stops a request: its wire code and its exact message."""

    code: str
    message: str


class RequestSend(Command, frozen=True, kw_only=True):
    source: str
    destinations: tuple[str, ...]
    operation: str = "SendEmail"
    content_sha256: str | None = None
    configuration_set: str | None = None
    tags: tuple[Tag, ...] = ()
    feedback_address: str | None = None
    caller: str | None = None
    source_ip: str | None = None
    max_delivery_seconds: int = 50_400
    quota_recipients: int = 0
    rejection: Rejection | None = None


class PrepareMessage(Command, frozen=True, kw_only=True):
    """The outgoing MIME is ready (assembled, signed, scanned clean) under this address."""

    content_sha256: str
    header_message_id: str


class RejectContent(Command, frozen=True, kw_only=True):
    """The content scan found a virus or another threat."""

    detail: str


class FailRendering(Command, frozen=True, kw_only=True):
    template_name: str
    error_message: str


class SuppressRecipient(Command, frozen=True, kw_only=True):
    """The address is listed: ``OnAccountSuppressionList`` for the account-level list (with
    its ``reason``), ``Suppressed`` for SES's global list (the simulator's suppressionlist@)."""

    recipient: str
    reason: str
    feedback_id: str
    bounce_subtype: str = "OnAccountSuppressionList"


class StartAttempt(Command, frozen=True, kw_only=True):
    recipients: tuple[str, ...]
    lease_seconds: float = 600.0


class ReportDelivered(Command, frozen=True, kw_only=True):
    recipient: str
    smtp_response: str
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None
    processing_ms: int | None = None


class ReportSoftFailure(Command, frozen=True, kw_only=True):
    """A 4xx reply, a refused or dropped connection, a timeout or a DNS failure."""

    recipient: str
    status: str
    diagnostic_code: str
    delay_type: str
    jitter: float
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None


class SuppressionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What decides whether a bounce or complaint lists the address: the reasons in force
    for the message (account or configuration set) and whether it is a simulator address."""

    reasons: tuple[str, ...] = ()
    simulator: bool = False


NO_SUPPRESSION = SuppressionPolicy()


class ReportHardFailure(Command, frozen=True, kw_only=True):
    """A 5xx reply during the SMTP transaction."""

    recipient: str
    bounce_type: str
    bounce_subtype: str
    status: str
    diagnostic_code: str
    feedback_id: str
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None
    suppression: SuppressionPolicy = NO_SUPPRESSION


class ExpireDelivery(Command, frozen=True, kw_only=True):
    """The retry window of a soft-bounced recipient has closed."""

    recipient: str
    feedback_id: str
    max_delivery_seconds: int
    reporting_mta: str | None = None


class ReportBounce(Command, frozen=True, kw_only=True):
    """A bounce report (DSN) about a message the receiving server had accepted."""

    recipient: str
    bounce_type: str
    bounce_subtype: str
    feedback_id: str
    action: str | None = "failed"
    status: str | None = None
    diagnostic_code: str | None = None
    reporting_mta: str | None = None
    remote_mta_ip: str | None = None
    suppression: SuppressionPolicy = NO_SUPPRESSION


class ReportComplaint(Command, frozen=True, kw_only=True):
    recipient: str
    feedback_id: str
    feedback_type: str | None = None
    user_agent: str | None = None
    arrival_date: str | None = None
    suppression: SuppressionPolicy = NO_SUPPRESSION


class ReportAutoReply(Command, frozen=True, kw_only=True):
    recipient: str
    feedback_id: str
    subject: str | None = None


AnyCommand = (
    RequestSend
    | PrepareMessage
    | RejectContent
    | FailRendering
    | SuppressRecipient
    | StartAttempt
    | ReportDelivered
    | ReportSoftFailure
    | ReportHardFailure
    | ExpireDelivery
    | ReportBounce
    | ReportComplaint
    | ReportAutoReply
)
