"""Which events notify whom: identity topics, event destinations, feedback forwarding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.acceptance.requests import RawContent
from sendtrail.core.notifications import (
    EMAIL,
    EVENT,
    IDENTITY,
    Publisher,
    Sender,
    mail_headers,
    notification_id,
    plan,
)
from sendtrail.core.notifications.identity import sending_identity, source_arn

T = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
BOUNCES = "arn:aws:sns:us-east-1:000000000000:bounces"
EVENTS = "arn:aws:sns:us-east-1:000000000000:events"
REQUEST = ev.SendRequested(
    at=T,
    message_id="m-1",
    source="Sender <sender@example.com>",
    destinations=("r@example.org",),
    operation="SendRawEmail",
    configuration_set="cs",
    feedback_address="returns@example.com",
)
HEADERS = mail_headers(
    RawContent(data=b"From: sender@example.com\r\nSubject: Hi\r\n\r\nx"),
    message_id="m-1",
)


def identity(**settings: Any) -> res.Identity:
    settings.setdefault("name", "example.com")
    return res.Identity(created_at=T, identity_type=res.DOMAIN, **settings)


def config_set(*destinations: res.EventDestination) -> res.ConfigurationSet:
    return res.ConfigurationSet(name="cs", created_at=T, event_destinations=destinations)


def sender(
    identity: res.Identity | None = None, configuration_set: res.ConfigurationSet | None = None
) -> Sender:
    return Sender(
        request=REQUEST,
        identity_name="example.com",
        identity=identity,
        configuration_set=configuration_set,
        publisher=Publisher(),
    )


def routes(event: ev.Event, who: Sender) -> list[tuple[str, str, str]]:
    return [
        (p.route.channel, p.route.kind, p.route.target) for p in plan(event, who, lambda: HEADERS)
    ]


BOUNCE = ev.RecipientBounced(
    at=T, recipient="r@example.org", bounce_type="Permanent", bounce_subtype="General",
    status="5.1.1", diagnostic_code="smtp; 550 5.1.1 no", feedback_id="f",
)  # fmt: skip
COMPLAINT = ev.ComplaintReported(at=T, recipient="r@example.org", feedback_id="f")
DELIVERED = ev.RecipientDelivered(at=T, recipient="r@example.org", smtp_response="250 ok")
AUTO_REPLY = ev.AutoReplyReported(at=T, recipient="r@example.org", feedback_id="f")
ALL_TYPES = ("SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "RENDERING_FAILURE",
             "DELIVERY_DELAY")  # fmt: skip


def everything() -> res.ConfigurationSet:
    return config_set(
        res.EventDestination(name="all", matching_event_types=ALL_TYPES, sns_topic_arn=EVENTS)
    )


@pytest.mark.parametrize(
    ("event", "event_type"),
    [
        (ev.SendAccepted(at=T, expires_at=T), "Send"),
        (ev.ContentRejected(at=T), "Reject"),
        (ev.RenderingFailed(at=T, template_name="t", error_message="e"), "Rendering Failure"),
        (DELIVERED, "Delivery"),
        (
            ev.RecipientDeferred(
                at=T,
                recipient="r@example.org",
                status="4.4.1",
                diagnostic_code="d",
                delay_type="General",
                next_attempt_at=T,
                expires_at=T,
            ),
            "DeliveryDelay",
        ),
        (BOUNCE, "Bounce"),
        (COMPLAINT, "Complaint"),
    ],
)
def test_every_published_type_reaches_a_matching_destination(
    event: ev.Event, event_type: str
) -> None:
    who = sender(identity(bounce_topic=BOUNCES, complaint_topic=BOUNCES), everything())
    published = [route for route in routes(event, who) if route[0] == EVENT]
    assert published == [(EVENT, event_type, EVENTS)]


def test_identity_notifications_exist_only_for_bounce_complaint_and_delivery() -> None:
    who = sender(identity(bounce_topic=BOUNCES, complaint_topic=BOUNCES, delivery_topic=BOUNCES))
    assert routes(BOUNCE, who) == [(IDENTITY, "Bounce", BOUNCES)]
    assert routes(COMPLAINT, who) == [(IDENTITY, "Complaint", BOUNCES)]
    assert routes(DELIVERED, who) == [(IDENTITY, "Delivery", BOUNCES)]
    assert routes(ev.SendAccepted(at=T, expires_at=T), who) == []
    assert routes(ev.ContentRejected(at=T), who) == []


def test_destinations_that_are_disabled_or_do_not_match_get_nothing() -> None:
    who = sender(
        identity(bounce_topic=BOUNCES),
        config_set(
            res.EventDestination(
                name="off", enabled=False, matching_event_types=ALL_TYPES, sns_topic_arn=EVENTS
            ),
            res.EventDestination(
                name="sends", matching_event_types=("SEND",), sns_topic_arn=EVENTS
            ),
            res.EventDestination(name="no-sns", matching_event_types=ALL_TYPES),
            res.EventDestination(
                name="bounces", matching_event_types=("BOUNCE",), sns_topic_arn=BOUNCES
            ),
        ),
    )
    assert routes(BOUNCE, who) == [(IDENTITY, "Bounce", BOUNCES), (EVENT, "Bounce", BOUNCES)]


def test_bounces_and_complaints_are_forwarded_by_email_without_a_topic() -> None:
    who = sender(identity())
    assert routes(BOUNCE, who) == [(EMAIL, "Bounce", "returns@example.com")]
    assert routes(COMPLAINT, who) == [(EMAIL, "Complaint", "returns@example.com")]
    assert routes(DELIVERED, who) == []  # never forwarded by email


def test_a_message_without_an_identity_resource_forwards_too() -> None:
    assert routes(BOUNCE, sender()) == [(EMAIL, "Bounce", "returns@example.com")]


def test_a_topic_for_the_type_replaces_forwarding_for_that_type_only() -> None:
    who = sender(identity(bounce_topic=BOUNCES))
    assert routes(BOUNCE, who) == [(IDENTITY, "Bounce", BOUNCES)]
    assert routes(COMPLAINT, who) == [(EMAIL, "Complaint", "returns@example.com")]


def test_forwarding_off_still_forwards_what_nothing_else_reports() -> None:
    off = identity(feedback_forwarding=False)
    assert routes(BOUNCE, sender(off)) == [(EMAIL, "Bounce", "returns@example.com")]
    assert routes(BOUNCE, sender(off, everything())) == [(EVENT, "Bounce", EVENTS)]
    on = identity()
    assert routes(BOUNCE, sender(on, everything())) == [
        (EVENT, "Bounce", EVENTS),
        (EMAIL, "Bounce", "returns@example.com"),
    ]


def test_an_auto_reply_is_an_identity_bounce_and_never_an_event() -> None:
    assert routes(AUTO_REPLY, sender(identity(bounce_topic=BOUNCES), everything())) == [
        (IDENTITY, "Bounce", BOUNCES)
    ]
    [planned] = plan(AUTO_REPLY, sender(identity(bounce_topic=BOUNCES)), lambda: HEADERS)
    assert planned.record["bounce"]["bounceType"] == "Transient"


def test_headers_are_read_only_when_a_record_needs_them() -> None:
    asked: list[int] = []

    def headers() -> Any:
        asked.append(1)
        return HEADERS

    plan(DELIVERED, sender(identity(delivery_topic=BOUNCES)), headers)
    assert asked == []
    [planned] = plan(
        DELIVERED, sender(identity(delivery_topic=BOUNCES, headers_in_delivery=True)), headers
    )
    assert planned.record["mail"]["commonHeaders"]["subject"] == "Hi"
    [forwarded] = plan(BOUNCE, sender(identity()), headers)
    assert forwarded.record["mail"]["headers"]  # the forwarded mail quotes the headers


def test_the_feedback_address_falls_back_to_the_source() -> None:
    who = Sender(
        request=ev.SendRequested(
            at=T, message_id="m", source="Name <me@example.com>", destinations=("r@example.org",)
        ),
        identity_name="example.com",
        identity=None,
        configuration_set=None,
        publisher=Publisher(),
    )
    assert routes(BOUNCE, who) == [(EMAIL, "Bounce", "me@example.com")]


def test_notification_ids_are_stable_and_distinct_per_route() -> None:
    who = sender(identity(bounce_topic=EVENTS), everything())
    keys = [p.route.key for p in plan(BOUNCE, who, lambda: HEADERS)]
    ids = [notification_id(42, key) for key in keys]
    assert ids == [notification_id(42, key) for key in keys]
    assert len(set(ids)) == 2  # one topic, as the identity's and a destination's: two
    assert notification_id(43, keys[0]) != ids[0]


def test_the_sending_identity_is_the_address_else_its_domain_else_a_parent() -> None:
    identities = {
        "sender@example.com": identity(name="sender@example.com"),
        "example.com": identity(),
    }
    assert (
        sending_identity("Sender <sender@example.com>", identities.get)[0] == "sender@example.com"
    )
    assert sending_identity("sender+x@example.com", identities.get)[0] == "sender@example.com"
    assert sending_identity("other@Example.COM", identities.get)[0] == "example.com"
    assert sending_identity("a@mail.example.com", identities.get)[0] == "example.com"
    assert sending_identity("a@elsewhere.net", identities.get) == ("elsewhere.net", None)
    assert source_arn("eu-west-1", "123456789012", "example.com") == (
        "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
    )
