"""Several workers on one PostgreSQL store: claims, take-overs, shared limits, wake-ups.

The workers here are registries in one test process (each with its own id), which is what a
worker process is to the database; tests/integration/test_cluster_postgres.py runs real
processes.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from support.postgres import URL, fresh_schema, url_in_schema

from sendtrail.adapters.cluster.delivery_claims import PostgresDeliveryQueue
from sendtrail.adapters.cluster.domain_limits import SharedDomainLimits
from sendtrail.adapters.cluster.notification_claims import PostgresNotificationClaims
from sendtrail.adapters.cluster.wakeups import Wakeups
from sendtrail.adapters.cluster.workers import WorkerRegistry
from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.core import projections as proj

NOW = proj.timestamp(datetime(2100, 1, 1, tzinfo=UTC))  # everything accepted is due by then
LEASE = 900.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_schema("cluster") as schema:
        engine = Engine.open(tmp_path, store_url=url_in_schema(schema))
        try:
            yield engine
        finally:
            engine.close()


def accept(engine: Engine, count: int, recipients: int = 2) -> set[tuple[str, str]]:
    keys = set()
    for index in range(count):
        message_id = f"m-{index:05d}"
        raw = f"Subject: {index}\r\n\r\nHello\r\n".encode()
        destinations = tuple(f"r{n}-{index}@example.net" for n in range(recipients))
        engine.execute(
            cmd.RequestSend(
                message_id=message_id,
                source="sender@example.com",
                destinations=destinations,
                operation="SendRawEmail",
                content_sha256=hashlib.sha256(raw).hexdigest(),
                quota_recipients=recipients,
            ),
            (raw,),
        )
        keys.update((message_id, address) for address in destinations)
    return keys


def worker(engine: Engine, dead_after: float = 10.0) -> WorkerRegistry:
    registry = WorkerRegistry(
        engine.store,  # type: ignore[arg-type]
        "worker",
        heartbeat_seconds=0.2,
        dead_after_seconds=dead_after,
    )
    registry.start()
    return registry


def keys_of(rows: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(row.message_id, row.address) for row in rows}


def kill(registry: WorkerRegistry) -> None:
    """What SIGKILL does to a worker: its heartbeat stops, its rows stay."""
    registry._stop.set()  # a dead process runs nothing, not even stop()
    with registry.store.connection() as conn:
        conn.execute(
            "UPDATE sendtrail_workers SET heartbeat_at = clock_timestamp() - interval '1 hour' "
            "WHERE worker_id = %s",
            (registry.worker_id,),
        )


def test_concurrent_claimers_share_the_due_work_without_overlap(engine: Engine) -> None:
    due = accept(engine, 150)
    registries = [worker(engine) for _ in range(3)]
    queues = [PostgresDeliveryQueue(r, lease_seconds=LEASE) for r in registries]
    taken: list[set[tuple[str, str]]] = [set() for _ in queues]
    together = threading.Barrier(len(queues))

    def take(index: int) -> None:
        together.wait()  # all start at once, so all compete for the same rows
        while rows := queues[index].claim(NOW, 7):
            taken[index].update(keys_of(rows))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for registry in registries:
        registry.stop()
    assert set().union(*taken) == due
    assert sum(len(t) for t in taken) == len(due)  # nobody got a recipient twice
    assert all(taken), "every claimer got a share"


def test_released_entries_go_to_the_next_claimer_and_held_ones_do_not(engine: Engine) -> None:
    accept(engine, 5, recipients=1)
    first, second = worker(engine), worker(engine)
    a = PostgresDeliveryQueue(first, lease_seconds=LEASE)
    b = PostgresDeliveryQueue(second, lease_seconds=LEASE)
    held = keys_of(a.claim(NOW, 3))
    assert len(held) == 3
    assert keys_of(b.claim(NOW, 10)).isdisjoint(held)
    a.release(sorted(held)[:1])
    assert keys_of(b.claim(NOW, 10)) == set(sorted(held)[:1])
    first.stop()
    second.stop()


def test_a_dead_workers_started_attempts_are_taken_over(engine: Engine) -> None:
    accept(engine, 4, recipients=1)
    doomed, survivor = worker(engine, dead_after=1.0), worker(engine, dead_after=1.0)
    queue = PostgresDeliveryQueue(doomed, lease_seconds=LEASE)
    rows = queue.claim(NOW, 10)
    started = rows[:3]
    for row in started:
        engine.execute(cmd.StartAttempt(message_id=row.message_id, recipients=(row.address,)))
    kill(doomed)
    other = PostgresDeliveryQueue(survivor, lease_seconds=LEASE)
    # The lease has not ended: nothing is due, but the dead worker's attempts are ours now.
    assert other.claim(NOW.replace("2100", "2000"), 10) == []
    taken = other.abandoned()
    assert keys_of(taken) == keys_of(started)
    assert {row.status for row in taken} == {"sending"}
    # The one it claimed and never started is due: claimable now its worker is gone.
    assert keys_of(other.claim(NOW, 10)) == keys_of(rows[3:])
    survivor.stop()


def test_a_worker_that_left_cleanly_has_its_unfinished_attempts_taken_at_once(
    engine: Engine,
) -> None:
    accept(engine, 2, recipients=1)
    leaving, staying = worker(engine), worker(engine)
    rows = PostgresDeliveryQueue(leaving, lease_seconds=LEASE).claim(NOW, 10)
    engine.execute(cmd.StartAttempt(message_id=rows[0].message_id, recipients=(rows[0].address,)))
    leaving.stop()
    assert keys_of(PostgresDeliveryQueue(staying, lease_seconds=LEASE).abandoned()) == keys_of(
        rows[:1]
    )
    staying.stop()


def test_a_notification_is_claimed_once_and_never_at_a_stale_version(engine: Engine) -> None:
    with engine.store.connection() as conn:  # type: ignore[union-attr]
        conn.execute(
            "INSERT INTO notification_outbox (notification_id, position, message_id, "
            "event_type, channel, kind, endpoint, target, origin, payload, created_at, status, "
            "attempts, next_attempt_at, updated_at, version) VALUES ('n1', 1, 'm', 'Send', "
            "'c', 'k', 'e', 't', 'o', '\\x00', 'x', 'pending', 0, 'x', 'x', 2)"
        )
    one, two = worker(engine, dead_after=1.0), worker(engine, dead_after=1.0)
    first, second = PostgresNotificationClaims(one), PostgresNotificationClaims(two)
    assert second.claim([("n1", 1)]) == set()  # read before its last change
    assert first.claim([("n1", 2)]) == {"n1"}
    assert second.claim([("n1", 2)]) == set()  # held by a live worker
    kill(one)
    assert second.claim([("n1", 2)]) == {"n1"}  # its worker died: taken over
    second.release(["n1"])
    assert second.claim([("n1", 2)]) == {"n1"}
    two.stop()


def test_domain_limits_hold_across_workers(engine: Engine) -> None:
    registries = [worker(engine) for _ in range(3)]
    limits = [SharedDomainLimits(r, max_in_flight=4, rate=0.0) for r in registries]
    running = [0, 0, 0]
    started = [0, 0, 0]
    peak = 0
    rng = random.Random(7)
    for step in range(400):
        for index, limit in enumerate(limits):
            # Each worker has a backlog: it asks for more whenever it can, and its
            # transactions end at random.
            if limit.admit("example.net", time.monotonic()) is None:
                running[index] += 1
                started[index] += 1
            if running[index] and rng.random() < 0.3:
                limit.finished("example.net")
                running[index] -= 1
            limit.sync(review=step % 10 == 0)  # as a heartbeat would, now and then
            peak = max(peak, sum(running))
    for registry in registries:
        registry.stop()
    assert peak <= 4
    assert peak >= 3, "the domain's connections were used"
    assert min(started) > 0, f"every worker had a turn: {started}"


def test_the_domain_rate_holds_across_workers(engine: Engine) -> None:
    registries = [worker(engine) for _ in range(2)]
    rate = 20.0
    limits = [SharedDomainLimits(r, max_in_flight=1000, rate=rate) for r in registries]
    started = 0
    began = time.monotonic()
    while time.monotonic() - began < 1.5:
        for limit in limits:
            if limit.admit("example.net", time.monotonic()) is None:
                started += 1
            limit.sync()
    elapsed = time.monotonic() - began
    for registry in registries:
        registry.stop()
    # A one-second burst plus the rate, shared: two workers together, not each.
    assert started <= rate + rate * elapsed + 1
    assert started >= rate  # the burst at least


def test_a_wake_up_reaches_another_process_subscriber(engine: Engine) -> None:
    store = engine.store
    publisher, listener = Wakeups(store), Wakeups(store)  # type: ignore[arg-type]
    woken = threading.Event()
    listener.subscribe("delivery", woken.set)
    listener.start()
    publisher.start()
    try:
        time.sleep(0.3)  # the listener's LISTEN is in place (it wakes everyone once when it is)
        woken.clear()
        publisher.publish("delivery")
        assert woken.wait(5.0)
    finally:
        publisher.stop()
        listener.stop()


def test_workers_are_listed_with_their_role_and_pid(engine: Engine) -> None:
    registry = worker(engine)
    with psycopg.connect(URL) as conn:
        conn.execute(f"SET search_path = {engine.store.schema}")  # type: ignore[union-attr]
        rows = conn.execute("SELECT role, pid FROM sendtrail_workers").fetchall()
    assert registry.live_count(("worker",)) == 1
    registry.stop()
    assert rows == [("worker", os.getpid())]
    assert registry.live_count(("worker",)) == 0  # marked gone at once, not after a timeout


def test_what_falls_due_next_leaves_out_what_other_workers_hold(engine: Engine) -> None:
    accept(engine, 2, recipients=1)
    holder, other = worker(engine), worker(engine)
    holding = PostgresDeliveryQueue(holder, lease_seconds=LEASE)
    looking = PostgresDeliveryQueue(other, lease_seconds=LEASE)
    first = holding.claim(NOW, 1)
    assert keys_of(looking.upcoming(0)) != keys_of(first)
    holding.claim(NOW, 1)
    assert looking.upcoming(0) == []  # all held: no reason to wake up for them
    holder.stop()
    other.stop()
