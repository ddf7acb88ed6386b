"""Three delivery workers and an API process on one PostgreSQL store; one worker is SIGKILLed
in the middle of the run.

5,000 messages are accepted through the API (v2 SendEmail, SigV4-signed) to recipients in
domains that ``[delivery.routes]`` sends to a loopback SMTP sink. Once about a third has been
delivered, the worker holding the most claims is killed. Afterwards every message must be
delivered, each delivery recorded once in the log, and the SMTP deliveries made twice (a
killed worker may have handed a message over without living to record it) must be among the
recipients the killed worker had claimed, so no more than it held. The log and every
projection must still check out (``sendtrail verify``, ``sendtrail replay --verify``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.cluster import (
    FEEDBACK_DOMAIN,
    Cluster,
    Node,
    SmtpSink,
    message_id_of,
    presigned_sends,
    send_all,
    wait_until,
)
from support.postgres import fresh_schema, url_in_schema

MESSAGES = 5_000
WORKERS = 3
DOMAINS = tuple(f"d{number}.sink.test" for number in range(8))
# Each final reply is held this long: deliveries are in flight (claimed, maybe handed over
# but not yet recorded) when the kill comes, as they would be on a real network.
SINK_DELAY = 0.005
# Death is noticed after dead_after_seconds without a heartbeat: low, so the takeover comes
# soon after the kill.
WORKER_SETTINGS = {"heartbeat_seconds": 0.5, "dead_after_seconds": 3.0}

pytestmark = pytest.mark.slow


@pytest.fixture
def store_url() -> Iterator[str]:
    with fresh_schema("test_cluster") as schema:
        yield url_in_schema(schema)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(delay=SINK_DELAY) as running:
        yield running


@pytest.fixture
def cluster(tmp_path: Path, store_url: str, sink: SmtpSink) -> Iterator[Cluster]:
    settings = {
        # Many domains, no per-domain rate: the run is bounded by the processes, not a limit.
        "delivery": {"routes": dict.fromkeys(DOMAINS, sink.address), "domain_rate_limit": 0.0},
    }
    with Cluster(tmp_path, store_url, settings=settings, workers=WORKER_SETTINGS) as running:
        yield running


def test_a_killed_worker_loses_nothing_and_duplicates_at_most_its_claims(
    cluster: Cluster, sink: SmtpSink
) -> None:
    api = cluster.start("api")
    workers = [cluster.start("worker") for _ in range(WORKERS)]
    cluster.wait_ready()
    recipients = [f"reader{number}@{DOMAINS[number % len(DOMAINS)]}" for number in range(MESSAGES)]
    requests = presigned_sends(api.url, recipients)

    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send_all, requests, 32)
        wait_until(lambda: sink.distinct() >= MESSAGES // 3, timeout=60, what="a third delivered")
        victim, victim_id = _busiest(cluster, workers)
        victim.kill()
        # Read at once: nobody takes the claims over before dead_after_seconds have passed.
        held = cluster.claimed_by(victim_id)
        delivered_at_kill = sink.distinct()
        sent = sending.result()

    assert sent.statuses == Counter({200: MESSAGES}), sent.failures
    message_ids = sent.accepted()
    assert len(set(message_ids)) == MESSAGES
    assert 0 < delivered_at_kill < MESSAGES, "the kill must come in the middle of the run"
    assert held, "the killed worker held no claim: the takeover was not exercised"

    wait_until(lambda: _undelivered(cluster) == 0, timeout=60, what="every recipient delivered")
    statuses = cluster.stop()
    assert all(statuses[node.name] == 0 for node in cluster.nodes if node is not victim), (
        statuses,
        {node.name: node.log_tail() for node in cluster.nodes},
    )

    with cluster.connect() as conn:
        message_states = dict(conn.execute("SELECT status, count(*) FROM messages GROUP BY 1"))
        recipient_states = dict(conn.execute("SELECT status, count(*) FROM recipients GROUP BY 1"))
        queued = conn.execute("SELECT count(*) FROM delivery_queue").fetchone()
        # The log, not the projection: each delivery recorded once, whoever made it.
        recorded = Counter(
            (str(stream), str(recipient))
            for stream, recipient in conn.execute(
                "SELECT stream_id, convert_from(data, 'UTF8')::jsonb ->> 'recipient' "
                "FROM events WHERE type = 'RecipientDelivered'"
            )
        )
        claims_left = conn.execute(
            "SELECT worker_id, count(*) FROM delivery_claims GROUP BY 1"
        ).fetchall()
        # A clean stop marks the process's row stopped (heartbeat -infinity) or deletes it.
        running = {
            str(worker_id)
            for worker_id, stopped in conn.execute(
                "SELECT worker_id, heartbeat_at = '-infinity' FROM sendtrail_workers"
            )
            if not stopped
        }

    assert message_states == {"delivered": MESSAGES}
    assert recipient_states == {"delivered": MESSAGES}
    assert queued == (0,)
    expected = set(zip(message_ids, recipients, strict=True))
    assert set(recorded) == expected
    assert max(recorded.values()) == 1, [key for key, n in recorded.items() if n > 1][:10]
    # Clean stops gave every claim back and left; only the killed worker never said so.
    assert claims_left == []
    assert running <= {victim_id}

    counts = sink.snapshot().deliveries
    delivered: Counter[tuple[str, str]] = Counter()
    for (envelope_sender, recipient), times in counts.items():
        assert envelope_sender.endswith(f"@{FEEDBACK_DOMAIN}")
        delivered[(message_id_of(envelope_sender), recipient)] += times
    assert set(delivered) == expected
    duplicated = {key for key, times in delivered.items() if times > 1}
    duplicates = sum(delivered[key] - 1 for key in duplicated)
    # A duplicate can only come from a recipient the dead worker held, once per claim.
    assert duplicated <= held, sorted(duplicated - held)[:10]
    assert duplicates <= len(held)
    print(
        f"\ncluster: {MESSAGES} messages, killed {victim.name} holding {len(held)} claims "
        f"after {delivered_at_kill} deliveries; {duplicates} duplicate SMTP deliveries; "
        f"accepted in {sent.seconds:.1f} s"
    )

    verify = cluster.cli("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    replay = cluster.cli("replay", "--verify")
    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_processes_started_together_all_come_up(tmp_path: Path) -> None:
    """An API process and three workers started at the same moment on a new store, as an
    orchestrator starts them: every one comes up. Three rounds, since a race may be lost
    only sometimes."""
    for round_number in range(3):
        with (
            fresh_schema("test_cluster_start") as schema,
            Cluster(
                tmp_path / f"round-{round_number}", url_in_schema(schema), workers=WORKER_SETTINGS
            ) as cluster,
        ):
            cluster.start("api")
            for _ in range(WORKERS):
                cluster.start("worker")
            cluster.wait_ready()
            assert sorted(cluster.worker_ids()) == sorted(node.pid for node in cluster.nodes)
            statuses = cluster.stop()
            assert set(statuses.values()) == {0}, statuses


def _busiest(cluster: Cluster, workers: list[Node]) -> tuple[Node, str]:
    """The worker holding the most claims now (waiting a little for one to hold any), and
    its worker_id, found by its pid in ``sendtrail_workers``."""
    deadline = time.monotonic() + 10
    while True:
        ids = cluster.worker_ids()
        claims = cluster.claims()
        held = {worker.name: claims.get(ids.get(worker.pid, ""), 0) for worker in workers}
        busiest = max(workers, key=lambda worker: held[worker.name])
        if held[busiest.name] > 0 or time.monotonic() > deadline:
            assert busiest.pid in ids, f"{busiest.name} is not in sendtrail_workers: {ids}"
            return busiest, ids[busiest.pid]
        time.sleep(0.05)


def _undelivered(cluster: Cluster) -> int:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status <> 'delivered'), count(*) FROM recipients"
        ).fetchone()
    assert row is not None
    pending, total = row
    return int(pending) + (MESSAGES - int(total))
