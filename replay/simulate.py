"""``sendtrail simulate``: random but legal outcome flows through the real core and store.

Every message follows a scenario drawn from a seeded generator (rejections, content
rejections, suppressions, deliveries, soft bounces with retries and expiry, hard bounces,
lost attempts, async bounces, complaints, auto-replies) on a simulated clock. Scenarios run
side by side in rounds, one command per message per round, so the store's group commit
sees realistic concurrency. The same seed gives the same log, event for event.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.core import ids

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_SECONDS = 3600
DOMAINS = ("example.net", "example.org", "mail.example.com", "example.jp")


class SimulationSummary(msgspec.Struct, frozen=True):
    messages: int
    recipients: int
    events: int
    seconds: float
    final_states: dict[str, int]


Scenario = Iterator[cmd.Command]


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def message_id(self, at: datetime) -> str:
        return ids.message_id("us-east-1", at, self.uuid())


def scenario(message_id: str, rng: random.Random, new_id: Callable[[], str]) -> Scenario:
    count = rng.choice((1, 1, 1, 2, 3))
    recipients = tuple(
        f"user{rng.randrange(10_000)}.{i}@{rng.choice(DOMAINS)}" for i in range(count)
    )
    rejected = rng.random() < 0.04
    yield cmd.RequestSend(
        message_id=message_id,
        source="sender@example.com",
        destinations=recipients,
        max_delivery_seconds=WINDOW_SECONDS,
        rejection=cmd.Rejection("MessageRejected", "Email address is not verified.")
        if rejected
        else None,
    )
    if rejected:
        return
    if rng.random() < 0.02:
        yield cmd.RejectContent(message_id=message_id, detail="Eicar-Signature")
        return
    pending = []
    for address in recipients:
        if rng.random() < 0.04:
            yield cmd.SuppressRecipient(
                message_id=message_id, recipient=address, reason="BOUNCE", feedback_id=new_id()
            )
        else:
            pending.append(address)
    delivered: list[str] = []
    while pending:
        yield cmd.StartAttempt(message_id=message_id, recipients=tuple(pending))
        if rng.random() < 0.02:
            continue  # the worker died mid-attempt: the lease runs out, the attempt restarts
        still_pending = []
        for address in pending:
            draw = rng.random()
            if draw < 0.75:
                yield cmd.ReportDelivered(
                    message_id=message_id,
                    recipient=address,
                    smtp_response="250 2.0.0 Ok: queued",
                    processing_ms=rng.randrange(5, 900),
                )
                delivered.append(address)
            elif draw < 0.88:
                yield cmd.ReportHardFailure(
                    message_id=message_id,
                    recipient=address,
                    bounce_type="Permanent",
                    bounce_subtype="NoEmail",
                    status="5.1.1",
                    diagnostic_code="smtp; 550 5.1.1 user unknown",
                    feedback_id=new_id(),
                )
            else:
                yield cmd.ReportSoftFailure(
                    message_id=message_id,
                    recipient=address,
                    status="4.2.2",
                    diagnostic_code="smtp; 452 4.2.2 mailbox full",
                    delay_type="MailboxFull",
                    jitter=rng.random(),
                )
                if rng.random() < 0.3:
                    yield cmd.ExpireDelivery(
                        message_id=message_id,
                        recipient=address,
                        feedback_id=new_id(),
                        max_delivery_seconds=WINDOW_SECONDS,
                    )
                else:
                    still_pending.append(address)
        pending = still_pending
    for address in delivered:
        draw = rng.random()
        if draw < 0.03:
            yield cmd.ReportBounce(
                message_id=message_id,
                recipient=address,
                bounce_type="Permanent",
                bounce_subtype="General",
                status="5.0.0",
                feedback_id=new_id(),
            )
        elif draw < 0.06:
            yield cmd.ReportComplaint(
                message_id=message_id,
                recipient=address,
                feedback_id=new_id(),
                feedback_type="abuse",
            )
        elif draw < 0.10:
            yield cmd.ReportAutoReply(
                message_id=message_id, recipient=address, feedback_id=new_id()
            )
            if rng.random() < 0.2:
                yield cmd.ReportComplaint(
                    message_id=message_id,
                    recipient=address,
                    feedback_id=new_id(),
                )


def simulate(
    data_dir: Path,
    messages: int,
    seed: int = 0,
    *,
    concurrency: int = 500,
    durable: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    import time

    rng = random.Random(seed)
    id_source = _Ids(rng)
    clock = ManualClock(START)
    started = time.perf_counter()
    events = 0
    recipients: Counter[str] = Counter()
    with Engine.open(data_dir, clock=clock, durable=durable) as engine:
        created = 0
        active: list[tuple[str, Scenario]] = []
        finished = 0
        while active or created < messages:
            while len(active) < concurrency and created < messages:
                message_id = id_source.message_id(clock.now())
                feedback_ids = lambda: id_source.message_id(clock.now())  # noqa: E731
                active.append((message_id, scenario(message_id, rng, feedback_ids)))
                created += 1
            submitted = []
            still_active = []
            for message_id, steps in active:
                command = next(steps, None)
                if command is None:
                    final = engine.state(message_id)
                    assert final is not None
                    recipients.update(r.status.value for r in final.recipients.values())
                    engine.forget(message_id)
                    finished += 1
                    continue
                submitted.append(engine.submit(command))
                still_active.append((message_id, steps))
            for future in submitted:
                events += len(future.result())
            active = still_active
            clock.advance(1)
            if progress is not None:
                progress(finished, messages)
    return SimulationSummary(
        messages=messages,
        recipients=sum(recipients.values()),
        events=events,
        seconds=time.perf_counter() - started,
        final_states=dict(sorted(recipients.items())),
    )
