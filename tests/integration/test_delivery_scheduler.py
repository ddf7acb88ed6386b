"""The delivery loop against a real engine, a loopback DNS server and loopback SMTP servers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.delivery import (
    EHLO,
    FEEDBACK_DOMAIN,
    accept,
    events_of,
    eventually,
    settings,
    statuses,
)
from support.dns_server import LoopbackDnsServer
from support.mx_server import STALL, LoopbackSmtpServer, Script, free_port

from sendtrail.adapters.clock import ManualClock, parse_timestamp
from sendtrail.adapters.config import Settings
from sendtrail.adapters.delivery import DeliveryScheduler
from sendtrail.adapters.engine import Engine
from sendtrail.adapters.read_model import RecipientView
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core import ids
from sendtrail.core.delivery.outcomes import Phase, classify_reply
from sendtrail.core.state import MessageState

Scenario = Callable[[Engine, DeliveryScheduler], Coroutine[Any, Any, None]]


@pytest.fixture(scope="module")
def mx_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def dns() -> Iterator[LoopbackDnsServer]:
    zone = {
        "one.test": {"MX": ["10 mx.one.test."]},
        "mx.one.test": {"A": ["127.0.0.2"]},
        "two.test": {"MX": ["10 mx.two.test."]},
        "mx.two.test": {"A": ["127.0.0.3"]},
        "nullmx.test": {"MX": ["0 ."]},
    }
    with LoopbackDnsServer(zone) as server:
        yield server


@pytest.fixture
def config(dns: LoopbackDnsServer, mx_port: int) -> Settings:
    return settings(nameserver=dns.address, smtp_port=mx_port)


def run(engine: Engine, config: Settings, scenario: Scenario, **options: Any) -> None:
    """Run ``scenario`` with a started scheduler, then stop it and close the engine."""

    async def main() -> None:
        scheduler = DeliveryScheduler.from_settings(engine, config, **options)
        await scheduler.start()
        try:
            await scenario(engine, scheduler)
        finally:
            await scheduler.stop(timeout=1.0)

    try:
        asyncio.run(main())
    finally:
        engine.close()


def test_a_message_is_delivered_per_domain_with_ses_delivery_fields(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "a@one.test", "b@one.test", "c@two.test")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: set(statuses(engine, message_id).values()) == {"delivered"})

    with (
        LoopbackSmtpServer("127.0.0.2", mx_port) as one,
        LoopbackSmtpServer("127.0.0.3", mx_port) as two,
    ):
        run(engine, config, scenario)
    # One transaction per domain, all of its recipients in it, from the VERP address.
    assert [m.rcpt_tos for m in one.messages] == [["a@one.test", "b@one.test"]]
    assert [m.rcpt_tos for m in two.messages] == [["c@two.test"]]
    assert one.messages[0].mail_from == f"{message_id}@{FEEDBACK_DOMAIN}"
    engine = Engine.open(tmp_path, durable=False)
    delivered = {e.recipient: e for e in events_of(engine, message_id, ev.RecipientDelivered)}
    engine.close()
    assert delivered["c@two.test"].remote_mta_ip == "127.0.0.3"
    for event in delivered.values():
        assert event.smtp_response == "250 2.0.0 Ok: queued as TEST"
        assert event.reporting_mta == EHLO
        assert event.processing_ms is not None and 0 <= event.processing_ms < 10_000


def test_refused_recipients_bounce_while_the_others_are_delivered(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "ok@one.test", "unknown@one.test", "nobody@nullmx.test")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: "accepted" not in statuses(engine, message_id).values())
        await eventually(lambda: "sending" not in statuses(engine, message_id).values())

    script = Script(rcpt={"unknown": "550 5.1.1 <unknown@one.test>: User unknown"})
    with LoopbackSmtpServer("127.0.0.2", mx_port, script):
        run(engine, config, scenario)
    engine = Engine.open(tmp_path, durable=False)
    assert statuses(engine, message_id) == {
        "ok@one.test": "delivered",
        "unknown@one.test": "hard-bounced",
        "nobody@nullmx.test": "hard-bounced",
    }
    bounces = {e.recipient: e for e in events_of(engine, message_id, ev.RecipientBounced)}
    engine.close()
    unknown = bounces["unknown@one.test"]
    verdict = classify_reply(Phase.RCPT, 550, "5.1.1 <unknown@one.test>: User unknown")
    assert (unknown.bounce_type, unknown.bounce_subtype, unknown.status) == (
        verdict.bounce_type,
        verdict.bounce_subtype,
        "5.1.1",
    )
    assert unknown.bounce_type == "Permanent"
    assert unknown.diagnostic_code == "smtp; 550 5.1.1 <unknown@one.test>: User unknown"
    assert unknown.remote_mta_ip == "127.0.0.2"
    assert unknown.reporting_mta == f"dsn; {EHLO}"
    assert ids.is_message_id(unknown.feedback_id)
    assert bounces["nobody@nullmx.test"].status == "5.1.10"


def test_a_missing_domain_is_retried_later_as_ses_does(tmp_path: Path, config: Settings) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "someone@missing.test")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(
            lambda: statuses(engine, message_id) == {"someone@missing.test": "soft-bounced"}
        )

    run(engine, config, scenario)
    engine = Engine.open(tmp_path, durable=False)
    [deferred] = events_of(engine, message_id, ev.RecipientDeferred)
    engine.close()
    assert deferred.diagnostic_code == "smtp; 421 4.4.0 Unable to lookup DNS for missing.test"
    assert deferred.delay_type == "TransientCommunicationFailure"


def test_the_assembled_message_is_sent_once_it_is_prepared(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "a@one.test", raw=b"Subject: as requested\r\n\r\nraw\r\n")
    assembled = b"Message-ID: <x@email.amazonses.com>\r\nSubject: signed\r\n\r\nfinal\r\n"
    engine.execute(
        cmd.PrepareMessage(
            message_id=message_id,
            content_sha256=engine.store.put_content(assembled),
            header_message_id="<x@email.amazonses.com>",
        )
    )

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "delivered")

    with LoopbackSmtpServer("127.0.0.2", mx_port) as server:
        run(engine, config, scenario)
    assert [m.data for m in server.messages] == [assembled]


def test_a_message_is_prepared_once_before_its_first_attempt(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "a@one.test", "b@two.test", raw=b'{"not": "mime yet"}')
    assembled = b"Message-ID: <x@email.amazonses.com>\r\nSubject: signed\r\n\r\nfinal\r\n"
    calls: list[str] = []

    async def prepare(message_id: str) -> MessageState | None:
        calls.append(message_id)
        await asyncio.sleep(0.05)  # both domain groups want the message meanwhile
        await engine.execute_async(
            cmd.PrepareMessage(
                message_id=message_id,
                content_sha256=hashlib.sha256(assembled).hexdigest(),
                header_message_id="<x@email.amazonses.com>",
            ),
            contents=(assembled,),
        )
        return engine.state(message_id)

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: set(statuses(engine, message_id).values()) == {"delivered"})

    with (
        LoopbackSmtpServer("127.0.0.2", mx_port) as one,
        LoopbackSmtpServer("127.0.0.3", mx_port) as two,
    ):
        run(engine, config, scenario, prepare=prepare)
    assert calls == [message_id]
    assert [m.data for m in one.messages + two.messages] == [assembled, assembled]


def test_a_message_another_worker_prepared_meanwhile_is_read_again_and_sent(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    other_worker = Engine.open(tmp_path, durable=False)  # its own cache, as another process
    message_id = accept(engine, "a@one.test", raw=b'{"not": "mime yet"}')
    assembled = b"Message-ID: <x@email.amazonses.com>\r\nSubject: signed\r\n\r\nfinal\r\n"
    prepare_command = cmd.PrepareMessage(
        message_id=message_id,
        content_sha256=hashlib.sha256(assembled).hexdigest(),
        header_message_id="<x@email.amazonses.com>",
    )
    calls: list[str] = []

    async def prepare(message_id: str) -> MessageState | None:
        calls.append(message_id)
        state = engine.state(message_id)
        if state is not None and state.outgoing_sha256 is not None:
            return state
        if len(calls) == 1:  # the other worker gets there first
            other_worker.execute(prepare_command, (assembled,))
        await engine.execute_async(prepare_command, contents=(assembled,))
        return engine.state(message_id)

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "delivered")

    with LoopbackSmtpServer("127.0.0.2", mx_port) as server:
        run(engine, config, scenario, prepare=prepare, shared_store=True)
    other_worker.close()
    assert len(calls) == 2  # the refused preparation, then the fresh read: no minute's wait
    assert [m.data for m in server.messages] == [assembled]


def test_a_message_that_cannot_be_prepared_is_left_alone_for_a_while(
    tmp_path: Path, config: Settings
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "a@one.test")
    calls: list[str] = []

    async def prepare(message_id: str) -> MessageState | None:
        calls.append(message_id)
        raise RuntimeError("the content scanner is down")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: calls == [message_id])
        for _ in range(3):
            scheduler.notify()
            await asyncio.sleep(0.1)
        assert calls == [message_id]  # not asked again at once: no busy loop
        assert statuses(engine, message_id) == {"a@one.test": "accepted"}  # nothing attempted

    run(engine, config, scenario, prepare=prepare)


def test_missing_content_is_an_internal_failure_retried_later(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = engine.new_message_id()
    engine.execute(
        cmd.RequestSend(
            message_id=message_id,
            source="sender@example.com",
            destinations=("a@one.test",),
            content_sha256="0" * 64,  # never stored
        )
    )

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "soft-bounced")

    with LoopbackSmtpServer("127.0.0.2", mx_port) as server:
        run(engine, config, scenario)
    assert server.connections == 0
    engine = Engine.open(tmp_path, durable=False)
    [deferred] = events_of(engine, message_id, ev.RecipientDeferred)
    engine.close()
    assert deferred.delay_type == "InternalFailure"
    assert deferred.diagnostic_code == (
        "smtp; 451 4.3.0 Internal failure: the message content is not in the store"
    )


def test_a_greylisting_451_is_retried_and_then_delivered(
    tmp_path: Path, config: Settings, mx_port: int, clock: ManualClock
) -> None:
    engine = Engine.open(tmp_path, clock=clock, durable=False)
    message_id = accept(engine, "a@one.test")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "soft-bounced")
        clock.advance(120)  # past the first retry (60 s, jittered by ±20%)
        scheduler.notify()
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "delivered")

    script = Script(data=["451 4.7.1 Greylisted, try again later", "250 2.0.0 Ok"])
    with LoopbackSmtpServer("127.0.0.2", mx_port, script) as server:
        run(engine, config, scenario)
    assert server.data_count == 2
    engine = Engine.open(tmp_path, durable=False)
    [deferred] = events_of(engine, message_id, ev.RecipientDeferred)
    assert len(events_of(engine, message_id, ev.AttemptStarted)) == 2
    engine.close()
    assert deferred.diagnostic_code == "smtp; 451 4.7.1 Greylisted, try again later"
    assert deferred.remote_mta_ip == "127.0.0.2"


def test_a_persistent_451_ends_in_the_ses_expiry_bounce(
    tmp_path: Path, config: Settings, mx_port: int, clock: ManualClock
) -> None:
    engine = Engine.open(tmp_path, clock=clock, durable=False)
    message_id = accept(engine, "a@one.test", max_delivery_seconds=300)

    def recipient() -> RecipientView:
        view = engine.read_model.message(message_id)
        assert view is not None
        return view.recipients[0]

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        for _ in range(10):  # retries at about 1, 3 and 5 minutes (the deadline)
            await eventually(lambda: recipient().status in ("soft-bounced", "hard-bounced"))
            current = recipient()
            if current.status == "hard-bounced":
                return
            assert current.due_at is not None
            clock.set(parse_timestamp(current.due_at))  # when the next retry is due
            scheduler.notify()
            made = current.attempts
            await eventually(lambda made=made: recipient().attempts > made)
        raise AssertionError("never expired")

    with LoopbackSmtpServer("127.0.0.2", mx_port, Script(data=["451 4.3.0 Try later"])):
        run(engine, config, scenario)
    engine = Engine.open(tmp_path, durable=False)
    [expired] = events_of(engine, message_id, ev.DeliveryExpired)
    engine.close()
    assert (expired.bounce_type, expired.bounce_subtype, expired.status) == (
        "Transient",
        "General",
        "4.4.7",
    )
    assert expired.diagnostic_code == (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 5 minutes.<451 4.3.0 Try later>"
    )
    assert ids.is_message_id(expired.feedback_id)


def test_connections_are_reused_across_messages(
    tmp_path: Path, dns: LoopbackDnsServer, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_ids = [accept(engine, f"r{i}@one.test") for i in range(10)]
    config = settings(nameserver=dns.address, smtp_port=mx_port, max_in_flight_per_domain=1)

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: scheduler.stats.delivered == 10)

    with LoopbackSmtpServer("127.0.0.2", mx_port) as server:
        run(engine, config, scenario)
    assert server.connections == 1
    assert sorted(server.delivered_to()) == sorted(f"r{i}@one.test" for i in range(10))
    assert len(message_ids) == 10


def test_the_domain_rate_limit_spaces_transactions(
    tmp_path: Path, dns: LoopbackDnsServer, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    for i in range(30):
        accept(engine, f"r{i}@one.test")
    config = settings(nameserver=dns.address, smtp_port=mx_port, domain_rate_limit=20.0)
    elapsed: list[float] = []

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        started = time.monotonic()
        await eventually(lambda: scheduler.stats.delivered == 30)
        elapsed.append(time.monotonic() - started)

    with LoopbackSmtpServer("127.0.0.2", mx_port):
        run(engine, config, scenario)
    # A burst of 20 (one second's worth), then 20 per second: the last 10 need half a second.
    assert elapsed[0] >= 0.45


def test_new_work_is_picked_up_on_notify_not_on_the_next_poll(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await asyncio.sleep(0.1)  # the loop has looked, found nothing, and sleeps for 30 s
        message_id = accept(engine, "a@one.test")
        started = time.monotonic()
        scheduler.notify()
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "delivered")
        assert time.monotonic() - started < 2

    with LoopbackSmtpServer("127.0.0.2", mx_port):
        run(engine, config, scenario, max_sleep=30.0)


def test_the_cost_follows_what_is_due_not_what_is_queued(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    deferred = 1000
    for i in range(deferred):  # deferred for an hour: queued, not due
        message_id = accept(engine, f"later{i}@two.test")
        engine.execute(cmd.StartAttempt(message_id=message_id, recipients=(f"later{i}@two.test",)))
        engine.execute(
            cmd.ReportSoftFailure(
                message_id=message_id,
                recipient=f"later{i}@two.test",
                status="4.2.2",
                diagnostic_code="smtp; 452 4.2.2 Mailbox full",
                delay_type="MailboxFull",
                jitter=0.5,
            )
        )
    due_now = accept(engine, "now@one.test")

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: statuses(engine, due_now)["now@one.test"] == "delivered")
        await asyncio.sleep(0.2)
        assert scheduler.stats.attempts == 1
        assert scheduler.stats.fetched <= 5  # rows read from the queue: only what was due

    assert engine.read_model.queue_depth() == deferred + 1
    with LoopbackSmtpServer("127.0.0.2", mx_port):
        run(engine, config, scenario)


def test_stop_abandons_a_stalled_attempt_and_the_next_start_finishes_it(
    tmp_path: Path, config: Settings, mx_port: int
) -> None:
    engine = Engine.open(tmp_path, durable=False)
    message_id = accept(engine, "a@one.test", "b@one.test")

    async def stalled(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: scheduler.stats.attempts == 1)
        await asyncio.sleep(0.1)

    with LoopbackSmtpServer("127.0.0.2", mx_port, Script(data=[STALL], stall_seconds=5)):
        run(engine, config, stalled)  # stop() gives up on the attempt after 1 s

    engine = Engine.open(tmp_path, durable=False)
    assert set(statuses(engine, message_id).values()) == {"sending"}  # leased for 15 minutes

    async def restarted(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await eventually(lambda: set(statuses(engine, message_id).values()) == {"delivered"})

    with LoopbackSmtpServer("127.0.0.2", mx_port) as server:
        run(engine, config, restarted)
    assert sorted(server.delivered_to()) == ["a@one.test", "b@one.test"]


def test_without_recovery_at_start_a_lease_brings_the_attempt_back_when_it_ends(
    tmp_path: Path, config: Settings, mx_port: int, clock: ManualClock
) -> None:
    engine = Engine.open(tmp_path, clock=clock, durable=False)
    message_id = accept(engine, "a@one.test")
    engine.execute(cmd.StartAttempt(message_id=message_id, recipients=("a@one.test",)))
    # A worker took it (a 600 s lease) and died.

    async def scenario(engine: Engine, scheduler: DeliveryScheduler) -> None:
        await asyncio.sleep(0.2)
        assert statuses(engine, message_id)["a@one.test"] == "sending"
        clock.advance(601)
        scheduler.notify()
        await eventually(lambda: statuses(engine, message_id)["a@one.test"] == "delivered")

    with LoopbackSmtpServer("127.0.0.2", mx_port):
        run(engine, config, scenario, recover_at_start=False)
