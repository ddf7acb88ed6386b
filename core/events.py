"""Every fact sendtrail records, as frozen msgspec structs in one tagged union.

The tag (``type``) names the event; ``SCHEMA`` is the version of its current shape. The log
stores both beside the encoded bytes, so an event written under an older schema is upcast
to the current shape on read (see ``UPCASTERS``) and old logs stay readable forever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Final

import msgspec

from .resources import AnyResource


class Event(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type", tag=True
):
    """Base of all events. ``at`` is when the engine concluded it (the caller's clock)."""

    SCHEMA: ClassVar[int] = 1
    at: datetime


class MessageEvent(Event, frozen=True, kw_only=True):
    """An event of a message's stream (the stream id is the message id)."""


class ResourceEvent(Event, frozen=True, kw_only=True):
    """An event of a resource's stream (``identity/example.com``, ``template/Welcome``...)."""

    actor: str | None = None  # who made the change: an access key id, ``config``, ``cli``


class Tag(msgspec.Struct, frozen=True):
    name: str
    value: str


# --- the request ------------------------------------------------------------------------


class SendRequested(MessageEvent, frozen=True, kw_only=True):
    """A client asked to send; recipients enter ``requested``."""

    message_id: str
    source: str
    destinations: tuple[str, ...]
    operation: str = "SendEmail"
    content_sha256: str | None = None
    configuration_set: str | None = None
    tags: tuple[Tag, ...] = ()
    feedback_address: str | None = None
    caller: str | None = None
    source_ip: str | None = None


class SendAccepted(MessageEvent, frozen=True, kw_only=True):
    """The request passed validation; delivery must end by ``expires_at``.

    ``recipients`` counts the delivery attempts it asks for (``GetSendStatistics``);
    ``quota_recipients`` those that count toward the daily quota (simulator ones do not).
    """

    expires_at: datetime
    recipients: int = 0
    quota_recipients: int = 0


class SendRejected(MessageEvent, frozen=True, kw_only=True):
    """The request failed validation; the client got this SES error."""

    code: str
    message: str


class ContentRejected(MessageEvent, frozen=True, kw_only=True):
    """The content scan found something dangerous after acceptance (SES's Reject)."""

    reason: str = "Bad content"
    detail: str = ""


class MessagePrepared(MessageEvent, frozen=True, kw_only=True):
    """The outgoing MIME is assembled, signed and scanned clean: delivery may start.

    Not a move in the lifecycle: the recipients stay ``accepted`` and become due.
    """

    content_sha256: str
    header_message_id: str


class RenderingFailed(MessageEvent, frozen=True, kw_only=True):
    template_name: str
    error_message: str


# --- delivery attempts ------------------------------------------------------------------


class RecipientSuppressed(MessageEvent, frozen=True, kw_only=True):
    """The address is on a suppression list: SES's bounce without an attempt."""

    recipient: str
    reason: str
    bounce_type: str
    bounce_subtype: str
    status: str
    diagnostic_code: str
    reporting_mta: str
    feedback_id: str


class AttemptStarted(MessageEvent, frozen=True, kw_only=True):
    """A delivery attempt to these recipients began; it is presumed lost after ``lease_until``."""

    recipients: tuple[str, ...]
    lease_until: datetime


class RecipientDelivered(MessageEvent, frozen=True, kw_only=True):
    SCHEMA: ClassVar[int] = 2
    recipient: str
    smtp_response: str
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None
    processing_ms: int | None = None


class RecipientDeferred(MessageEvent, frozen=True, kw_only=True):
    """A temporary failure: SES's DeliveryDelay; the next attempt is due at ``next_attempt_at``."""

    recipient: str
    status: str
    diagnostic_code: str
    delay_type: str
    next_attempt_at: datetime
    expires_at: datetime
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None


class BounceEvent(MessageEvent, frozen=True, kw_only=True):
    """Base of the events that end a recipient in a bounce, with SES's ``bounce`` fields."""

    recipient: str
    bounce_type: str
    bounce_subtype: str
    action: str | None = "failed"
    status: str | None = None
    diagnostic_code: str | None = None
    remote_mta_ip: str | None = None
    reporting_mta: str | None = None
    feedback_id: str
    # BOUNCE when this bounce puts the address on the account's suppression list.
    suppression_reason: str | None = None
    # A mailbox simulator address: counted nowhere that reputation or statistics are.
    simulated: bool = False


class RecipientBounced(BounceEvent, frozen=True, kw_only=True):
    """The receiving server refused the recipient during the SMTP transaction."""


class DeliveryExpired(BounceEvent, frozen=True, kw_only=True):
    """The retry window closed: SES's Transient 4.4.7 expiry bounce."""


# --- news that comes back by mail -------------------------------------------------------


class BounceReported(BounceEvent, frozen=True, kw_only=True):
    """A bounce (DSN) arrived after the receiving server had accepted the message."""


class ComplaintReported(MessageEvent, frozen=True, kw_only=True):
    recipient: str
    feedback_id: str
    feedback_type: str | None = None
    user_agent: str | None = None
    arrival_date: str | None = None
    complaint_subtype: str | None = None
    # COMPLAINT when this complaint puts the address on the account's suppression list.
    suppression_reason: str | None = None
    simulated: bool = False


class AutoReplyReported(MessageEvent, frozen=True, kw_only=True):
    recipient: str
    feedback_id: str
    subject: str | None = None


class ResourceSaved(ResourceEvent, frozen=True, kw_only=True):
    """A resource was created or changed; ``resource`` is its whole new state."""

    resource: AnyResource


class ResourceDeleted(ResourceEvent, frozen=True, kw_only=True):
    kind: str
    name: str


class AddressSuppressed(ResourceEvent, frozen=True, kw_only=True):
    """The address is on the account-level suppression list (``BOUNCE`` or ``COMPLAINT``).

    ``message_id`` and ``feedback_id`` name the bounce or complaint that put it there, when
    one did (SES's ``SuppressedDestination.Attributes``).
    """

    address: str
    reason: str
    message_id: str | None = None
    feedback_id: str | None = None


class AddressUnsuppressed(ResourceEvent, frozen=True, kw_only=True):
    address: str


# --- notifications ----------------------------------------------------------------------


class NotificationEvent(Event, frozen=True, kw_only=True):
    """An event of a notification's stream (``notification/<notification id>``)."""

    notification_id: str


class NotificationDelivered(NotificationEvent, frozen=True, kw_only=True):
    """The endpoint acknowledged the notification (an HTTP 2xx, or the relay's 250)."""

    attempt: int
    response: str | None = None


class NotificationAttemptFailed(NotificationEvent, frozen=True, kw_only=True):
    """One delivery attempt failed; the next one is due at ``retry_at``."""

    attempt: int
    error: str
    retry_at: datetime


class NotificationParked(NotificationEvent, frozen=True, kw_only=True):
    """Delivery stopped after ``attempts`` failed attempts, until an operator retries it."""

    attempts: int
    error: str


class NotificationRetried(NotificationEvent, frozen=True, kw_only=True):
    """An operator put the notification back to pending (``sendtrail notifications retry``)."""

    actor: str | None = None


class FeedbackReceived(Event, frozen=True, kw_only=True):
    """A feedback mail arrived (stream ``feedback/<content sha256>``), tied to a message or not.

    Kept whatever it says, so feedback that could not be tied to a message is never lost:
    ``reason`` says why it was not, and the content is in the content store.
    """

    content_sha256: str
    kind: str
    envelope_recipients: tuple[str, ...]
    message_id: str | None = None
    recipients: tuple[str, ...] = ()
    reason: str | None = None


AnyEvent = (
    SendRequested
    | SendAccepted
    | SendRejected
    | ContentRejected
    | RenderingFailed
    | RecipientSuppressed
    | AttemptStarted
    | RecipientDelivered
    | RecipientDeferred
    | RecipientBounced
    | DeliveryExpired
    | BounceReported
    | ComplaintReported
    | AutoReplyReported
    | MessagePrepared
    | ResourceSaved
    | ResourceDeleted
    | AddressSuppressed
    | AddressUnsuppressed
    | NotificationDelivered
    | NotificationAttemptFailed
    | NotificationParked
    | NotificationRetried
    | FeedbackReceived
)

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    cls.__name__: cls
    for cls in (
        SendRequested,
        SendAccepted,
        SendRejected,
        ContentRejected,
        RenderingFailed,
        RecipientSuppressed,
        AttemptStarted,
        RecipientDelivered,
        RecipientDeferred,
        RecipientBounced,
        DeliveryExpired,
        BounceReported,
        ComplaintReported,
        AutoReplyReported,
        MessagePrepared,
        ResourceSaved,
        ResourceDeleted,
        AddressSuppressed,
        AddressUnsuppressed,
        NotificationDelivered,
        NotificationAttemptFailed,
        NotificationParked,
        NotificationRetried,
        FeedbackReceived,
    )
}


# --- old shapes -------------------------------------------------------------------------


def _delivered_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 named the reply ``smtp_reply`` and had no processing time.

    Schema 2 took SES's own field name, ``smtpResponse``, and added ``processingTimeMillis``.
    """
    data = dict(data)
    data["smtp_response"] = data.pop("smtp_reply")
    data.setdefault("processing_ms", None)
    return data


# (type, schema it was written with) -> function returning the next schema's dict.
UPCASTERS: Final[dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    ("RecipientDelivered", 1): _delivered_v1_to_v2,
}


class UnreadableEvent(ValueError):
    """Stored bytes that no known schema decodes."""


_json_encoder = msgspec.json.Encoder()
_dict_decoder = msgspec.json.Decoder(dict[str, Any])


def encode(event: Event) -> bytes:
    return _json_encoder.encode(event)


def schema_of(event: Event) -> int:
    return type(event).SCHEMA


# One decoder per current (type, schema): the common case costs a dict lookup and a decode.
_CURRENT_DECODERS: Final[dict[tuple[str, int], msgspec.json.Decoder[Any]]] = {
    (name, cls.SCHEMA): msgspec.json.Decoder(cls) for name, cls in EVENT_TYPES.items()
}


def decode(data: bytes, event_type: str, schema: int) -> Event:
    """Decode stored bytes, upcasting an older schema to the current shape."""
    decoder = _CURRENT_DECODERS.get((event_type, schema))
    if decoder is not None:
        try:
            event: Event = decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise UnreadableEvent(f"{event_type} schema {schema}: {error}") from error
        return event
    return _decode_older(data, event_type, schema)


def _decode_older(data: bytes, event_type: str, schema: int) -> Event:
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnreadableEvent(f"unknown event type {event_type!r}")
    try:
        if schema > cls.SCHEMA:
            raise UnreadableEvent(f"{event_type} schema {schema} is newer than this sendtrail")
        fields = _dict_decoder.decode(data)
        while schema < cls.SCHEMA:
            upcast = UPCASTERS.get((event_type, schema))
            if upcast is None:
                raise UnreadableEvent(f"no upcast for {event_type} schema {schema}")
            fields = upcast(fields)
            schema += 1
        return msgspec.convert(fields, AnyEvent)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UnreadableEvent(f"{event_type} schema {schema}: {error}") from error


_resource_decoder = msgspec.json.Decoder(AnyResource)


def encode_resource(resource: AnyResource) -> bytes:
    return _json_encoder.encode(resource)


def decode_resource(data: bytes) -> AnyResource:
    resource: AnyResource = _resource_decoder.decode(data)
    return resource


def to_builtins(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data (for ``history --json`` and exports)."""
    result: dict[str, Any] = msgspec.to_builtins(event)
    return result
