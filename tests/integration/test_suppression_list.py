"""The account-level suppression list: put, get, list with paging and filters, delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.suppression import SuppressionList
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core.acceptance.errors import SesError

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


World = tuple[Engine, SuppressionList, ManualClock]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = ManualClock(T0)
    engine = Engine.open(tmp_path, clock=clock, durable=False)
    yield engine, SuppressionList(engine.store, clock), clock
    engine.close()


def test_put_get_and_delete_are_events_and_match_case_insensitively(world: World) -> None:
    engine, suppression, _ = world
    suppression.put("Jane@Example.com", "BOUNCE", actor="AKID", message_id="m1", feedback_id="f1")

    found = suppression.get("jane@example.com")
    assert found is not None
    assert (found.email_address, found.reason, found.message_id) == (
        "Jane@Example.com",
        "BOUNCE",
        "m1",
    )
    assert found.last_update_time == T0
    suppression.delete("JANE@example.com", actor="cli")
    assert suppression.get("jane@example.com") is None
    events = [s.event for s in engine.store.read_stream("suppression/jane@example.com")]
    assert [type(e) for e in events] == [ev.AddressSuppressed, ev.AddressUnsuppressed]
    assert [e.actor for e in events] == ["AKID", "cli"]  # type: ignore[attr-defined]


def test_deleting_an_address_not_listed_is_not_found(world: World) -> None:
    _, suppression, _ = world
    with pytest.raises(SesError) as error:
        suppression.delete("nobody@example.com", actor=None)
    assert error.value.v2_status == 404


def test_an_invalid_reason_is_a_bad_request(world: World) -> None:
    _, suppression, _ = world
    with pytest.raises(SesError) as error:
        suppression.put("a@example.com", "SPAM", actor=None)
    assert error.value.v2_type == "BadRequestException"


def test_list_pages_through_everything_once_and_filters(world: World) -> None:
    _, suppression, clock = world
    for i in range(25):
        suppression.put(f"user{i:02d}@example.com", "BOUNCE" if i % 2 else "COMPLAINT", actor=None)
        clock.advance(60)

    seen, token, pages = [], None, 0
    while True:
        page, token = suppression.list(page_size=10, next_token=token)
        seen += [d.email_address for d in page]
        pages += 1
        if token is None:
            break
    complaints, _ = suppression.list(reasons=["COMPLAINT"], page_size=100)
    recent, _ = suppression.list(start=datetime(2026, 1, 5, 9, 50, tzinfo=UTC), page_size=100)

    assert pages == 3 and seen == sorted(f"user{i:02d}@example.com" for i in range(25))
    assert len(complaints) == 13
    assert [d.email_address for d in recent] == [f"user{i:02d}@example.com" for i in range(20, 25)]
    with pytest.raises(SesError) as bad_token:
        suppression.list(next_token="%%%")
    assert bad_token.value.v2_type == "InvalidNextTokenException"


def test_a_permanent_bounce_that_lists_the_address_appears_on_the_list(world: World) -> None:
    engine, suppression, _ = world
    message_id = "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000"
    policy = cmd.SuppressionPolicy(reasons=("BOUNCE", "COMPLAINT"))
    engine.execute(
        cmd.RequestSend(message_id=message_id, source="s@example.com",
                        destinations=("gone@example.net", "here@example.net"))
    )  # fmt: skip
    engine.execute(
        cmd.StartAttempt(message_id=message_id, recipients=("gone@example.net", "here@example.net"))
    )
    engine.execute(
        cmd.ReportHardFailure(
            message_id=message_id, recipient="gone@example.net", bounce_type="Permanent",
            bounce_subtype="General", status="5.1.1", diagnostic_code="smtp; 550 5.1.1 unknown",
            feedback_id="fb-1", suppression=policy,
        )
    )  # fmt: skip
    engine.execute(
        cmd.ReportSoftFailure(
            message_id=message_id, recipient="here@example.net", status="4.2.2",
            diagnostic_code="smtp; 452 4.2.2 full", delay_type="MailboxFull", jitter=0.5,
        )
    )  # fmt: skip

    listed = suppression.get("gone@example.net")
    assert listed is not None
    assert (listed.reason, listed.message_id, listed.feedback_id) == ("BOUNCE", message_id, "fb-1")
    assert suppression.get("here@example.net") is None
