"""Which notifications an event yields, where each goes, and what each says.

- Identity notifications (Bounce, Complaint, Delivery) go to the sending identity's topic for
  that type. Auto-replies are reported as identity Bounce notifications (Transient/General),
  as SES reports out-of-office replies, and are never published as events.
- Event publishing: every enabled event destination of the message's configuration set
  whose ``matching_event_types`` include the type, and that names an SNS topic.
- Feedback forwarding by email, for bounces and complaints only: when the identity has no
  topic for the type and either forwarding is on (SES's default) or nothing else reports
  the type: SES forwards anyway when no event destination of the message covers it (DG,
  reference 9). It goes to the message's feedback address.

``SendRejected`` is an API error, not an event: it yields nothing; so do the events of the
message's own bookkeeping (``SendRequested``, ``AttemptStarted``, ``MessagePrepared``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from sendtrail.core import events as ev
from sendtrail.core.resources import ConfigurationSet, EventDestination, Identity

from .headers import MailHeaders
from .identity import sender_address
from .records import Publisher, Record, event_record, identity_notification

IDENTITY = "identity"  # an identity's SNS topic
EVENT = "event"  # an event destination's SNS topic
EMAIL = "email"  # feedback forwarding by email

BOUNCE: Final = "Bounce"
COMPLAINT: Final = "Complaint"
DELIVERY: Final = "Delivery"

# Event class -> identity notificationType.
IDENTITY_TYPES: Final[dict[type[ev.Event], str]] = {
    ev.RecipientDelivered: DELIVERY,
    ev.RecipientBounced: BOUNCE,
    ev.DeliveryExpired: BOUNCE,
    ev.BounceReported: BOUNCE,
    ev.RecipientSuppressed: BOUNCE,
    ev.AutoReplyReported: BOUNCE,
    ev.ComplaintReported: COMPLAINT,
}
# Event class -> (v2 EventType enum, as event destinations match it; the record's eventType).
PUBLISHED_TYPES: Final[dict[type[ev.Event], tuple[str, str]]] = {
    ev.SendAccepted: ("SEND", "Send"),
    ev.ContentRejected: ("REJECT", "Reject"),
    ev.RenderingFailed: ("RENDERING_FAILURE", "Rendering Failure"),
    ev.RecipientDelivered: ("DELIVERY", "Delivery"),
    ev.RecipientDeferred: ("DELIVERY_DELAY", "DeliveryDelay"),
    ev.RecipientBounced: ("BOUNCE", "Bounce"),
    ev.DeliveryExpired: ("BOUNCE", "Bounce"),
    ev.BounceReported: ("BOUNCE", "Bounce"),
    ev.RecipientSuppressed: ("BOUNCE", "Bounce"),
    ev.ComplaintReported: ("COMPLAINT", "Complaint"),
}
# Published records that do not describe the message's headers (the DG examples): the
# template never rendered, or the delay record is about the attempt.
_PUBLISHED_WITHOUT_HEADERS: Final = frozenset({ev.RenderingFailed, ev.RecipientDeferred})
NOTIFYING_EVENTS: Final = frozenset(IDENTITY_TYPES) | frozenset(PUBLISHED_TYPES)
# Events an identity notification or forwarded feedback can report (the others only go to
# a configuration set's event destinations).
IDENTITY_EVENTS: Final = frozenset(IDENTITY_TYPES)


class Route(msgspec.Struct, frozen=True):
    channel: str  # IDENTITY, EVENT or EMAIL
    kind: str  # the record's notificationType or eventType
    target: str  # an SNS topic ARN, or the address feedback is forwarded to
    origin: str  # what asked for it, for operators: the identity, or set/destination
    key: str  # the route within the event, for the notification id


class Planned(msgspec.Struct, frozen=True):
    route: Route
    record: Record


class Sender(msgspec.Struct, frozen=True):
    """The message's settings as of the event: its identity and configuration set."""

    request: ev.SendRequested
    identity_name: str
    identity: Identity | None
    configuration_set: ConfigurationSet | None
    publisher: Publisher


def plan(event: ev.Event, sender: Sender, headers: Callable[[], MailHeaders]) -> list[Planned]:
    """The notifications ``event`` yields; ``headers`` is called only if one needs them."""
    planned: list[Planned] = []
    identity_type = IDENTITY_TYPES.get(type(event))
    topic = _identity_topic(sender.identity, identity_type)
    identity_origin = f"identity {sender.identity_name}"
    if identity_type is not None and topic is not None:
        with_headers = _headers_enabled(sender.identity, identity_type)
        record = identity_notification(
            identity_type,
            event,
            sender.request,
            publisher=sender.publisher,
            identity_name=sender.identity_name,
            headers=headers() if with_headers else None,
        )
        route = Route(IDENTITY, identity_type, topic, identity_origin, f"{IDENTITY}:{topic}")
        planned.append(Planned(route, record))
    destinations = _matching_destinations(event, sender.configuration_set)
    if destinations:
        event_type = PUBLISHED_TYPES[type(event)][1]
        record = event_record(
            event_type,
            event,
            sender.request,
            publisher=sender.publisher,
            identity_name=sender.identity_name,
            headers=None if type(event) in _PUBLISHED_WITHOUT_HEADERS else headers(),
        )
        set_name = sender.request.configuration_set
        for destination in destinations:
            arn = destination.sns_topic_arn or ""
            origin = f"configuration set {set_name}, event destination {destination.name}"
            key = f"{EVENT}:{set_name}:{destination.name}"
            planned.append(Planned(Route(EVENT, event_type, arn, origin, key), record))
    if identity_type in (BOUNCE, COMPLAINT) and topic is None:
        forwarding = sender.identity is None or sender.identity.feedback_forwarding
        if forwarding or not destinations:
            address = sender.request.feedback_address or sender.request.source
            target = sender_address(address)
            # The forwarded mail quotes the original headers, whatever the identity's
            # setting for its notifications.
            record = identity_notification(
                identity_type,
                event,
                sender.request,
                publisher=sender.publisher,
                identity_name=sender.identity_name,
                headers=headers(),
            )
            route = Route(EMAIL, identity_type, target, identity_origin, f"{EMAIL}:{target}")
            planned.append(Planned(route, record))
    return planned


def _identity_topic(identity: Identity | None, notification_type: str | None) -> str | None:
    if identity is None or notification_type is None:
        return None
    return {
        BOUNCE: identity.bounce_topic,
        COMPLAINT: identity.complaint_topic,
        DELIVERY: identity.delivery_topic,
    }[notification_type]


def _headers_enabled(identity: Identity | None, notification_type: str) -> bool:
    if identity is None:
        return False
    return {
        BOUNCE: identity.headers_in_bounce,
        COMPLAINT: identity.headers_in_complaint,
        DELIVERY: identity.headers_in_delivery,
    }[notification_type]


def _matching_destinations(
    event: ev.Event, configuration_set: ConfigurationSet | None
) -> list[EventDestination]:
    published = PUBLISHED_TYPES.get(type(event))
    if published is None or configuration_set is None:
        return []
    return [
        destination
        for destination in configuration_set.event_destinations
        if destination.enabled
        and destination.sns_topic_arn
        and published[0] in destination.matching_event_types
    ]
