"""Accepting sends as SES does, through the engine: each acceptance rule, recorded as events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.resources import ResourceRegistry
from sendtrail.adapters.sending import Sender
from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.errors import SesError
from sendtrail.core.acceptance.requests import (
    Destination,
    FormattedMessage,
    RawContent,
    SendRequest,
    SimpleContent,
    TemplateContent,
    decode_stored,
)

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"identities": {"verified": ["example.com"]}}
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value)
    return msgspec.convert(base, Settings)


class World:
    def __init__(self, directory: Path, config: Settings) -> None:
        self.clock = ManualClock(T0)
        self.engine = Engine.open(directory, clock=self.clock, durable=False)
        self.registry = ResourceRegistry(self.engine.store)
        self.sender = Sender(self.engine, self.registry, config)

    def send(self, request: SendRequest) -> str:
        return asyncio.run(self.sender.send(request))

    def events(self, message_id: str) -> list[ev.Event]:
        return [stored.event for stored in self.engine.store.read_stream(message_id)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    instance = World(tmp_path, settings())
    yield instance
    instance.engine.close()


def simple(
    source: str = "Sender <news@example.com>",
    to: tuple[str, ...] = ("reader@example.net",),
    surface: Surface = Surface.V2_API,
    **fields: Any,
) -> SendRequest:
    return SendRequest(
        surface=surface,
        operation="SendEmail",
        source=source,
        destination=Destination(to=to),
        content=SimpleContent(subject="Hello", text="Hi there"),
        **fields,
    )


def rejection_of(world: World, request: SendRequest) -> tuple[SesError, list[ev.Event]]:
    before = world.engine.store.last_position()
    with pytest.raises(SesError) as error:
        world.send(request)
    recorded = list(world.engine.store.read_all(after=before))
    return error.value, [stored.event for stored in recorded]


def test_a_valid_simple_send_is_recorded_requested_then_accepted_with_its_content(
    world: World,
) -> None:
    message_id = world.send(simple())

    requested, accepted = world.events(message_id)
    assert isinstance(requested, ev.SendRequested) and isinstance(accepted, ev.SendAccepted)
    assert requested.source == "Sender <news@example.com>"
    assert requested.destinations == ("reader@example.net",)
    assert accepted.recipients == 1 and accepted.quota_recipients == 1
    stored = world.engine.store.get_content(requested.content_sha256 or "")
    assert stored is not None
    kept = decode_stored(stored, "SendEmail")
    assert isinstance(kept, FormattedMessage)
    assert kept.content == SimpleContent(subject="Hello", text="Hi there")
    assert kept.source == "Sender <news@example.com>"
    assert kept.destination.to == ("reader@example.net",)
    view = world.engine.read_model.message(message_id)
    assert view is not None and view.status == "accepted"


def test_an_unverified_sender_is_refused_with_ses_text_and_recorded_as_rejected(
    world: World,
) -> None:
    error, events = rejection_of(world, simple(source="Bob <bob@unverified.org>"))

    assert error.code == "MessageRejected"
    assert error.message == (
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: Bob <bob@unverified.org>"
    )
    assert [type(e) for e in events] == [ev.SendRequested, ev.SendRejected]
    assert events[1] == ev.SendRejected(at=T0, code="MessageRejected", message=error.message)


def test_a_return_path_must_be_verified_too(world: World) -> None:
    error, _ = rejection_of(world, simple(return_path="bounces@elsewhere.org"))
    assert error.message.endswith("US-EAST-1: bounces@elsewhere.org")


def test_the_sandbox_requires_verified_recipients_except_the_simulator(tmp_path: Path) -> None:
    world = World(tmp_path, settings(account={"sandbox": True}))
    try:
        error, _ = rejection_of(world, simple(to=("stranger@example.net",)))
        assert "stranger@example.net" in error.message
        message_id = world.send(simple(to=("success+test@simulator.amazonses.com",)))
        assert world.engine.read_model.message(message_id) is not None
    finally:
        world.engine.close()


def test_at_most_fifty_recipients_and_at_least_one(world: World) -> None:
    many = tuple(f"r{i}@example.net" for i in range(51))

    too_many, _ = rejection_of(world, simple(to=many))
    none, _ = rejection_of(world, simple(to=()))

    assert (too_many.code, too_many.message) == (
        "InvalidParameterValue",
        "Recipient count exceeds 50.",
    )
    assert none.code == "InvalidParameterValue"


def test_a_malformed_recipient_gets_ses_address_error(world: World) -> None:
    error, events = rejection_of(world, simple(to=("no-at-sign",)))
    assert error.code == "InvalidParameterValue"
    assert error.message == "Missing final '@domain'"
    assert isinstance(events[-1], ev.SendRejected)


def test_an_unknown_configuration_set_and_a_paused_one_are_refused(world: World) -> None:
    missing, _ = rejection_of(world, simple(configuration_set="Nope"))
    world.registry.save(
        res.ConfigurationSet(name="Paused", created_at=T0, sending_enabled=False),
        at=T0,
        actor="test",
    )
    paused, _ = rejection_of(world, simple(configuration_set="Paused"))

    assert missing.code == "ConfigurationSetDoesNotExist"
    assert paused.code == "ConfigurationSetSendingPausedException"


def test_a_paused_account_refuses_every_send(world: World) -> None:
    world.registry.save(
        res.Account(name=res.ACCOUNT_NAME, created_at=T0, sending_enabled=False),
        at=T0,
        actor="test",
    )
    error, _ = rejection_of(world, simple())
    assert error.code == "AccountSendingPausedException"


def test_the_rate_is_enforced_per_second_counting_recipients(tmp_path: Path) -> None:
    world = World(tmp_path, settings(account={"max_send_rate": 2.0}))
    try:
        world.send(simple(to=("a@example.net", "b@example.net")))
        error, _ = rejection_of(world, simple())
        world.clock.advance(1.0)
        world.send(simple())
    finally:
        world.engine.close()
    assert (error.code, error.message) == ("Throttling", "Maximum sending rate exceeded.")


def test_the_daily_quota_counts_recipients_but_not_simulator_ones(tmp_path: Path) -> None:
    world = World(tmp_path, settings(account={"max_24_hour_send": 2, "max_send_rate": 100.0}))
    try:
        world.send(simple(to=("a@example.net", "b@example.net")))
        simulator = world.send(simple(to=("success@simulator.amazonses.com",)))
        error, _ = rejection_of(world, simple())
        world.clock.advance(24 * 3600 + 900)
        world.send(simple())
    finally:
        world.engine.close()
    assert error.message.startswith("Daily message quota exceeded")
    assert world.sender is not None and simulator


def test_processes_accepting_mail_together_share_the_quotas(tmp_path: Path) -> None:
    config = settings(account={"max_send_rate": 4.0, "max_24_hour_send": 5})
    here, elsewhere = World(tmp_path, config), World(tmp_path, config)  # two API processes
    try:
        here.sender.share_quota(2)
        here.send(simple(to=("a@example.net", "b@example.net")))  # half the rate: 2 a second
        throttled, _ = rejection_of(here, simple())
        elsewhere.send(simple(to=("c@example.net", "d@example.net", "e@example.net")))
        here.clock.advance(1.0)
        here.sender.share_quota(2)  # a heartbeat: the other's sends are counted now
        over_quota, _ = rejection_of(here, simple())
    finally:
        here.engine.close()
        elsewhere.engine.close()
    assert throttled.message == "Maximum sending rate exceeded."
    assert over_quota.message.startswith("Daily message quota exceeded")
    assert here.sender.quota.max_send_rate == 4.0  # GetSendQuota still shows the account's


def test_a_raw_message_takes_its_configuration_set_and_tags_from_headers(world: World) -> None:
    world.registry.save(res.ConfigurationSet(name="Tracked", created_at=T0), at=T0, actor="test")
    raw = (
        b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: hi\r\n"
        b"X-SES-CONFIGURATION-SET: Tracked\r\nX-SES-MESSAGE-TAGS: campaign=spring, kind=promo\r\n"
        b"\r\nbody\r\n"
    )
    message_id = world.send(
        SendRequest(surface=Surface.SMTP, operation="SendRawEmail", content=RawContent(data=raw))
    )

    requested = world.events(message_id)[0]
    assert isinstance(requested, ev.SendRequested)
    assert requested.configuration_set == "Tracked"
    assert requested.tags == (ev.Tag("campaign", "spring"), ev.Tag("kind", "promo"))
    assert requested.destinations == ("reader@example.net",)
    assert requested.feedback_address == "news@example.com"


def test_a_raw_message_over_ten_megabytes_is_refused_on_the_v1_api(world: World) -> None:
    raw = b"From: news@example.com\r\nTo: r@example.net\r\n\r\n" + b"x" * 998 + b"\r\n"
    raw += (b"y" * 998 + b"\r\n") * 10_500
    error, _ = rejection_of(
        world,
        SendRequest(surface=Surface.V1_API, operation="SendRawEmail", content=RawContent(data=raw)),
    )
    assert error.message == f"Message length is more than 10485760 bytes long: '{len(raw)}'."


def test_a_templated_send_needs_an_existing_template(world: World) -> None:
    request = SendRequest(
        surface=Surface.V2_API,
        operation="SendTemplatedEmail",
        source="news@example.com",
        destination=Destination(to=("reader@example.net",)),
        content=TemplateContent(template_name="Welcome", template_data='{"name": "Ann"}'),
    )
    error, _ = rejection_of(world, request)
    world.registry.save(
        res.Template(name="Welcome", created_at=T0, subject="Hi {{name}}", text="Hello"),
        at=T0,
        actor="test",
    )
    message_id = world.send(request)

    assert error.code == "TemplateDoesNotExist"
    assert world.engine.read_model.message(message_id) is not None
