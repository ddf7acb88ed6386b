"""Identities, templates, configuration sets and account settings, recorded as events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from sendtrail.adapters.account import AccountOperations
from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.resources import ResourceRegistry
from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.acceptance.errors import SesError
from sendtrail.core.identity_verification import DnsFindings

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def fixed_dkim(domain: str, key_length: str) -> res.Dkim:
    # A fixed key is enough here: these tests are about the records, not the cryptography.
    return res.Dkim(
        selector="st1",
        public_key="MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest",
        private_key_sha256="0" * 64,
        tokens=("tok1", "tok2", "tok3"),
        key_length=key_length,
    )


class World:
    def __init__(self, directory: Path, settings: Settings) -> None:
        self.clock = ManualClock(T0)
        self.engine = Engine.open(directory, clock=self.clock, durable=False)
        self.registry = ResourceRegistry(self.engine.store)
        self.ops = AccountOperations(self.registry, settings, self.clock, fixed_dkim)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = msgspec.convert(
        {
            "identities": {"verified": ["trusted.example"]},
            "topics": {"arn:aws:sns:us-east-1:000000000000:events": {"url": "http://127.0.0.1/"}},
        },
        Settings,
    )
    instance = World(tmp_path, settings)
    yield instance
    instance.engine.close()


def test_a_domain_identity_gets_a_token_and_dkim_records_and_starts_pending(world: World) -> None:
    identity = world.ops.create_identity("Example.ORG", actor="AKID")

    assert identity.name == "example.org"
    assert identity.identity_type == res.DOMAIN
    assert identity.verification_status == res.PENDING
    assert identity.verification_token is not None and len(identity.verification_token) == 44
    assert identity.dkim is not None and identity.dkim.tokens == ("tok1", "tok2", "tok3")
    [stored] = world.engine.store.read_stream("identity/example.org")
    assert isinstance(stored.event, ev.ResourceSaved) and stored.event.actor == "AKID"


def test_creating_an_identity_twice_is_already_exists(world: World) -> None:
    world.ops.create_identity("a@example.org", actor=None)
    with pytest.raises(SesError) as error:
        world.ops.create_identity("a@example.org", actor=None)
    assert error.value.v2_type == "AlreadyExistsException"


def test_a_dns_check_verifies_by_token_or_dkim_and_fails_after_72_hours(world: World) -> None:
    token = world.ops.create_identity("one.example", actor=None).verification_token
    world.ops.create_identity("two.example", actor=None)
    world.ops.create_identity("three.example", actor=None)

    by_token = world.ops.record_dns_check("one.example", DnsFindings(txt_records=(f'"{token}"',)))
    by_dkim = world.ops.record_dns_check(
        "two.example",
        DnsFindings(dkim_cnames=tuple(f"tok{i}.dkim.amazonses.com." for i in (1, 2, 3))),
    )
    pending = world.ops.record_dns_check("three.example", DnsFindings(error="HOST_NOT_FOUND"))
    world.clock.advance(timedelta(hours=72).total_seconds())
    failed = world.ops.record_dns_check("three.example", DnsFindings(error="HOST_NOT_FOUND"))

    assert by_token.verification_status == res.SUCCESS
    assert by_dkim.verification_status == res.SUCCESS and by_dkim.dkim is not None
    assert by_dkim.dkim.status == res.SUCCESS
    assert pending.verification_status == res.PENDING
    assert (failed.verification_status, failed.verification_error) == (res.FAILED, "HOST_NOT_FOUND")


def test_configured_identities_are_trusted_once(world: World) -> None:
    world.ops.trust_configured_identities()
    world.ops.trust_configured_identities()

    identity = world.ops.identity("trusted.example")
    assert identity.verified and identity.trusted
    assert len(world.engine.store.read_stream("identity/trusted.example")) == 1


def test_processes_starting_together_trust_the_configured_identities_once(
    tmp_path: Path,
) -> None:
    settings = msgspec.convert({"identities": {"verified": ["trusted.example"]}}, Settings)
    first, late = World(tmp_path, settings), World(tmp_path, settings)  # both loaded: none yet
    try:
        first.ops.trust_configured_identities()
        late.ops.trust_configured_identities()  # loses the race, reads, finds it done
        assert late.ops.identity("trusted.example").trusted
        assert len(late.engine.store.read_stream("identity/trusted.example")) == 1
    finally:
        first.engine.close()
        late.engine.close()


def test_an_address_at_a_verified_domain_shows_as_verified(world: World) -> None:
    world.ops.trust_configured_identities()
    world.ops.create_identity("news@trusted.example", actor=None)

    assert world.ops.identity("news@trusted.example").verification_status == res.SUCCESS


def test_deleting_an_unknown_identity_is_not_found_and_delete_is_recorded(world: World) -> None:
    world.ops.create_identity("gone@example.org", actor=None)
    world.ops.delete_identity("gone@example.org", actor="AKID")

    with pytest.raises(SesError) as error:
        world.ops.identity("gone@example.org")
    assert error.value.v2_status == 404
    assert isinstance(world.engine.store.read_stream("identity/gone@example.org")[-1].event,
                      ev.ResourceDeleted)  # fmt: skip
    assert [i.name for i in world.ops.identities()] == []


def test_templates_are_created_validated_updated_and_deleted(world: World) -> None:
    template = res.Template(name="Welcome", created_at=T0, subject="Hi {{name}}", text="Hello")
    world.ops.create_template(template, actor=None)
    with pytest.raises(SesError) as broken:
        world.ops.create_template(
            res.Template(name="Broken", created_at=T0, subject="{{#if x}}"), actor=None
        )
    world.ops.update_template(
        res.Template(name="Welcome", created_at=T0, subject="Hey {{name}}"), actor=None
    )
    assert world.ops.template("Welcome").subject == "Hey {{name}}"
    world.ops.delete_template("Welcome", actor=None)
    with pytest.raises(SesError) as missing:
        world.ops.template("Welcome")

    assert broken.value.code == "InvalidTemplate"
    assert missing.value.code == "TemplateDoesNotExist" and missing.value.v2_status == 404


def test_configuration_sets_with_options_and_event_destinations(world: World) -> None:
    world.ops.create_configuration_set(res.ConfigurationSet(name="Main", created_at=T0), actor=None)
    world.ops.update_configuration_set(
        "Main", actor=None, tls_policy="REQUIRE", max_delivery_seconds=600
    )
    destination = res.EventDestination(
        name="hook", matching_event_types=("BOUNCE", "DELIVERY"),
        sns_topic_arn="arn:aws:sns:us-east-1:000000000000:events",
    )  # fmt: skip
    world.ops.put_event_destination("Main", destination, actor=None, create=True)
    with pytest.raises(SesError) as unmapped:
        world.ops.put_event_destination(
            "Main",
            res.EventDestination(name="other", sns_topic_arn="arn:aws:sns:us-east-1:0:nowhere"),
            actor=None,
            create=True,
        )
    with pytest.raises(SesError) as window:
        world.ops.update_configuration_set("Main", actor=None, max_delivery_seconds=60)

    current = world.ops.configuration_set("Main")
    assert (current.tls_policy, current.max_delivery_seconds) == ("REQUIRE", 600)
    assert current.event_destinations == (destination,)
    assert unmapped.value.v2_type == "BadRequestException"
    assert window.value.v2_type == "BadRequestException"
    world.ops.delete_configuration_set("Main", actor=None)
    assert world.ops.configuration_sets() == []


def test_resources_survive_a_restart_through_the_projection(tmp_path: Path) -> None:
    settings = Settings()
    first = World(tmp_path, settings)
    first.ops.create_identity("kept.example", actor=None)
    first.engine.close()

    second = World(tmp_path, settings)
    try:
        assert second.ops.identity("kept.example").identity_type == res.DOMAIN
    finally:
        second.engine.close()


def test_a_registry_loads_what_another_process_changed_when_refreshed(tmp_path: Path) -> None:
    settings = Settings()
    here, elsewhere = World(tmp_path, settings), World(tmp_path, settings)  # two processes
    announced: list[str] = []
    elsewhere.registry.on_change(lambda: announced.append("changed"))
    try:
        assert not here.registry.refresh()  # nothing changed: nothing loaded
        elsewhere.ops.create_template(
            res.Template(name="Welcome", created_at=T0, subject="Hi", text="Hello"), actor=None
        )
        assert announced == ["changed"]
        assert here.registry.get(res.Template, "Welcome") is None
        generation = here.registry.generation
        assert here.registry.refresh()
        assert here.registry.get(res.Template, "Welcome") is not None
        assert here.registry.generation > generation  # cached send contexts are rebuilt
        elsewhere.ops.delete_template("Welcome", actor=None)
        assert here.registry.refresh()
        assert here.registry.get(res.Template, "Welcome") is None
    finally:
        here.engine.close()
        elsewhere.engine.close()
