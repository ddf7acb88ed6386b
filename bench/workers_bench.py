"""Several processes on PostgreSQL against one on SQLite: accepted and delivered messages/s.

Each configuration runs real ``sendtrail serve`` processes (the integration tests' cluster
harness, ``tests/support/cluster.py``): one ``--role all`` process on the embedded SQLite
store, then one ``--role api`` process with 1, 2 and 4 ``--role worker`` processes on a fresh
PostgreSQL schema. A client in its own process signs ``MESSAGES`` v2 SendEmail requests
(SigV4) and fires them 32 at a time; the workers deliver meanwhile, over SMTP, into a sink in
this process that accepts everything (20 recipient domains, default delivery settings).

- accepted/s: requests answered 200 per second of the client's firing;
- delivered/s: messages recorded ``delivered`` in the store, per second from the first
  request to the last delivery, polled every 0.2 s;
- CPU per message: each process's CPU time (``/proc``) over the run, PostgreSQL's server
  processes included (all of them, so anything else using the server is counted too);
- the append lock: ``pg_locks`` sampled every 0.2 s for the schema's advisory lock, which
  every append of every process takes (``adapters/postgres_store.py``): how often it was
  held, and how many transactions waited for it on average.

    python -m bench.workers_bench [MESSAGES]
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from sendtrail.adapters.engine import EVENTS_FILE
from sendtrail.adapters.postgres_store import advisory_lock_key, drop_schema

# The cluster harness is shared with the integration tests, which import it as ``support``.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.cluster import (
    Cluster,
    SmtpSink,
    presigned_sends,
    process_cpu_seconds,
    send_all,
)

URL = os.environ.get("SENDTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
MESSAGES = 6_000  # per configuration: at 100-300 messages/s, about a minute each
CONCURRENCY = 32
DOMAINS = 20
WORKER_COUNTS = (1, 2, 4)
POLL_SECONDS = 0.2
IDLE_SECONDS = 3.0
DELIVERY_TIMEOUT = 300.0
HEARTBEAT = {"heartbeat_seconds": 1.0, "dead_after_seconds": 10.0}  # the defaults


@dataclass
class Figures:
    setup: str
    processes: str
    messages: int
    accept_seconds: float
    deliver_seconds: float  # first request to last delivery recorded
    delivered_when_sent: int  # deliveries recorded when the last request was answered
    cpu: dict[str, float]  # seconds over the run: api, workers, postgres, bench (sink+poll)
    idle_cpu: float  # cores used by all processes while idle, before the run
    lock_held: float | None  # share of samples in which the append lock was held
    lock_waiters: float | None  # transactions waiting for it, on average
    holder: dict[str, float]  # share of samples: holder waiting for its client, WAL, server
    commits: int | None  # transactions that wrote the log
    events: int
    load: float  # 1-minute load average when the configuration started

    @property
    def accepted_per_second(self) -> float:
        return self.messages / self.accept_seconds

    @property
    def delivered_per_second(self) -> float:
        return self.messages / self.deliver_seconds

    def cpu_ms(self, part: str) -> float:
        return self.cpu.get(part, 0.0) / self.messages * 1e3


def _client(url: str, count: int, started: Any, results: Any) -> None:
    """Runs in its own process: sign every request, then fire them (the firing timed)."""
    recipients = [f"reader{n}@domain{n % DOMAINS}.bench.test" for n in range(count)]
    requests = presigned_sends(url, recipients, text="Hello,\n\nthis is the news.\n" * 20)
    started.set()
    began = time.monotonic()
    result = send_all(requests, CONCURRENCY)
    results.put((began, result.seconds, dict(result.statuses), result.failures))


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL server so far: its live processes, plus what the
    postmaster has collected from backends that ended (connections come and go)."""
    total = 0.0
    for pid in _pids_named("postgres"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a backend that ended meanwhile: its time is now the postmaster's
        ticks = int(stat[11]) + int(stat[12])
        if _is_postmaster(int(stat[1])):
            ticks += int(stat[13]) + int(stat[14])  # cutime, cstime: reaped children
        total += ticks / os.sysconf("SC_CLK_TCK")
    return total


def _is_postmaster(parent: int) -> bool:
    try:
        return Path(f"/proc/{parent}/comm").read_text().strip() != "postgres"
    except OSError:
        return True


def _holder_doing(state: str | None, wait_type: str | None, wait_event: str | None) -> str:
    """What the transaction holding the append lock is doing: waiting for its client (the
    Python writer between statements: encoding, folding projections, the GIL), writing or
    flushing WAL, or running a statement in the server."""
    if state is not None and state.startswith("idle in transaction"):
        return "client"
    if wait_type == "IO" or (wait_type == "LWLock" and (wait_event or "").startswith("WAL")):
        return "wal"
    return "server"


class _Store:
    """Counts deliveries in whichever store the configuration uses, and samples the lock."""

    def __init__(self, schema: str | None, data_dir: Path | None) -> None:
        self.schema = schema
        self.data_dir = data_dir
        self.conn: psycopg.Connection[Any] | None = None
        self.samples: list[tuple[str, int]] = []  # (what the holder does, waiters)
        if schema is not None:
            self.conn = psycopg.connect(URL, autocommit=True)
            key = advisory_lock_key(schema)
            # pg_locks shows a bigint advisory key as two 32-bit halves (objsubid 1).
            unsigned = key & 0xFFFFFFFFFFFFFFFF
            self.lock_ids = (unsigned >> 32, unsigned & 0xFFFFFFFF)

    def delivered(self) -> int:
        if self.conn is not None:
            row = self.conn.execute(
                f"SELECT count(*) FROM \"{self.schema}\".recipients WHERE status = 'delivered'"
            ).fetchone()
            return int(row[0]) if row else 0
        assert self.data_dir is not None
        path = self.data_dir / EVENTS_FILE
        if not path.exists():
            return 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute(
                "SELECT count(*) FROM recipients WHERE status = 'delivered'"
            ).fetchone()
        return int(row[0]) if row else 0

    def sample_lock(self) -> None:
        if self.conn is None:
            return
        rows = self.conn.execute(
            "SELECT l.granted, a.state, a.wait_event_type, a.wait_event "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s AND l.objsubid = 1",
            self.lock_ids,
        ).fetchall()
        holder = "free"
        for granted, state, wait_type, wait_event in rows:
            if granted:
                holder = _holder_doing(state, wait_type, wait_event)
        self.samples.append((holder, sum(1 for row in rows if not row[0])))

    def log_facts(self) -> tuple[int | None, int]:
        """(transactions that wrote the log, events in it)."""
        if self.conn is not None:
            row = self.conn.execute(
                f'SELECT count(DISTINCT xmin::text), count(*) FROM "{self.schema}".events'
            ).fetchone()
            assert row is not None
            return int(row[0]), int(row[1])
        assert self.data_dir is not None
        with sqlite3.connect(f"file:{self.data_dir / EVENTS_FILE}?mode=ro", uri=True) as db:
            row = db.execute("SELECT count(*) FROM events").fetchone()
        return None, int(row[0]) if row else 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _measure_one(directory: Path, workers: int | None, messages: int) -> Figures:
    """One configuration: ``workers`` None is the single SQLite process."""
    load = os.getloadavg()[0]
    schema = None if workers is None else f"bench_workers_{uuid.uuid4().hex}"
    sink = SmtpSink().start()
    settings = {
        "delivery": {
            "routes": {f"domain{n}.bench.test": sink.address for n in range(DOMAINS)},
        }
    }
    store_url = None if schema is None else f"{URL}?options=-csearch_path%3D{schema}"
    cluster = Cluster(
        directory,
        store_url,
        settings=settings,
        workers=None if workers is None else HEARTBEAT,
    )
    store: _Store | None = None
    try:
        if workers is None:
            api = cluster.start("all", "all")
            cluster.wait_ready()
            worker_nodes = []
            store = _Store(None, api.directory / "data")
        else:
            api = cluster.start("api", "api")
            worker_nodes = [cluster.start("worker", f"worker-{n}") for n in range(workers)]
            cluster.wait_ready()
            store = _Store(schema, None)
        return _run(cluster, api, worker_nodes, store, workers, messages, load)
    finally:
        cluster.stop()
        sink.stop()
        if store is not None:
            store.close()
        if schema is not None:
            drop_schema(URL, schema)


def _run(
    cluster: Cluster,
    api: Any,
    worker_nodes: list[Any],
    store: _Store,
    workers: int | None,
    messages: int,
    load: float,
) -> Figures:
    def cpu_now() -> dict[str, float]:
        return {
            "api": api.cpu_seconds(),
            "workers": sum(node.cpu_seconds() for node in worker_nodes),
            "postgres": _postgres_cpu() if workers is not None else 0.0,
            "bench": process_cpu_seconds(os.getpid()),
        }

    # Idle first: what heartbeats, polling and claim queries cost with nothing to do.
    time.sleep(1.0)
    idle_start = cpu_now()
    time.sleep(IDLE_SECONDS)
    idle_end = cpu_now()
    idle = sum(idle_end[k] - idle_start[k] for k in idle_end if k != "bench") / IDLE_SECONDS

    context = multiprocessing.get_context("spawn")
    started, results = context.Event(), context.Queue()
    client = context.Process(target=_client, args=(api.url, messages, started, results))
    client.start()
    if not started.wait(timeout=120):
        client.kill()
        raise RuntimeError("the client did not get ready")
    before, measuring_since = cpu_now(), time.monotonic()
    progress: list[tuple[float, int]] = []  # (when, deliveries recorded)
    while not progress or progress[-1][1] < messages:
        store.sample_lock()
        progress.append((time.monotonic(), store.delivered()))
        if progress[-1][1] >= messages:
            break
        if not client.is_alive() and results.empty():
            raise RuntimeError(f"the client died with {client.exitcode}")
        if time.monotonic() - measuring_since > DELIVERY_TIMEOUT:
            tails = {node.name: node.log_tail(5) for node in cluster.nodes}
            raise RuntimeError(f"not delivered after {DELIVERY_TIMEOUT} s: {tails}")
        time.sleep(POLL_SECONDS)
    after = cpu_now()
    done_at = progress[-1][0]
    began, accept_seconds, statuses, failures = results.get(timeout=60)
    client.join(timeout=60)
    if statuses != {200: messages}:
        raise RuntimeError(f"requests refused: {statuses} {failures}")
    # Deliveries when the last request was answered: the first progress sample after it.
    sent_at = began + accept_seconds
    delivered_when_sent = next((n for when, n in progress if when >= sent_at), messages)
    commits, events = store.log_facts()
    holders = [doing for doing, _ in store.samples]
    waiters = [waiting for _, waiting in store.samples]
    shares = {doing: holders.count(doing) / len(holders) for doing in set(holders)}
    return Figures(
        setup="SQLite, one process"
        if workers is None
        else f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}",
        processes="1 `all`" if workers is None else f"1 `api` + {workers} `worker`",
        messages=messages,
        accept_seconds=accept_seconds,
        deliver_seconds=done_at - began,
        delivered_when_sent=delivered_when_sent,
        cpu={key: after[key] - before[key] for key in after},
        idle_cpu=idle,
        lock_held=1 - shares.get("free", 0.0) if workers else None,
        lock_waiters=sum(waiters) / len(waiters) if workers else None,
        holder=shares if workers else {},
        commits=commits,
        events=events,
        load=load,
    )


def measure(messages: int = MESSAGES) -> list[Figures]:
    load = os.getloadavg()[0]
    print(f"workers: {messages:,} messages per configuration; load average {load:.2f}")
    figures = []
    with tempfile.TemporaryDirectory(prefix="sendtrail-workers-bench-") as directory:
        for workers in (None, *WORKER_COUNTS):
            name = "sqlite" if workers is None else f"pg-{workers}"
            result = _measure_one(Path(directory) / name, workers, messages)
            print(_line(result), flush=True)
            figures.append(result)
    return figures


def _line(f: Figures) -> str:
    lock = (
        f"; append lock held {f.lock_held:.0%} of samples (holder waiting for its client "
        f"{f.holder.get('client', 0):.0%}, on WAL {f.holder.get('wal', 0):.0%}, in the server "
        f"{f.holder.get('server', 0):.0%}), {f.lock_waiters:.2f} waiting; "
        f"{f.events / (f.commits or 1):.1f} events per commit"
        if f.lock_held is not None and f.lock_waiters is not None
        else ""
    )
    return (
        f"{f.setup}: accepted {f.accepted_per_second:,.0f}/s, delivered "
        f"{f.delivered_per_second:,.0f}/s ({f.deliver_seconds:.1f} s; "
        f"{f.delivered_when_sent:,} delivered when the last was accepted); CPU ms/message: api "
        f"{f.cpu_ms('api'):.2f}, workers {f.cpu_ms('workers'):.2f}, PostgreSQL "
        f"{f.cpu_ms('postgres'):.2f}; idle {f.idle_cpu:.2f} cores{lock}"
    )


def run() -> str:
    """``make bench``: the markdown table for docs/benchmarks.md."""
    figures = measure()
    rows = [
        "| setup | processes | accepted msg/s | delivered msg/s | all delivered after | "
        "CPU ms/msg: API | workers | PostgreSQL | idle CPU (cores) | append lock held | "
        "its holder waits for its client / WAL / runs | waiting for it | events per commit |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for f in figures:
        lock = (
            (
                f"{f.lock_held:.0%}",
                " / ".join(f"{f.holder.get(k, 0):.0%}" for k in ("client", "wal", "server")),
                f"{f.lock_waiters:.2f}",
            )
            if f.lock_held is not None and f.lock_waiters is not None
            else ("n/a", "n/a", "n/a")
        )
        per_commit = f"{f.events / f.commits:.1f}" if f.commits else "n/a"
        single = f.setup.startswith("SQLite")
        api_label = "API and delivery" if single else "API"
        workers_ms, postgres_ms = (
            ("n/a", "n/a")
            if single
            else (f"{f.cpu_ms('workers'):.2f}", f"{f.cpu_ms('postgres'):.2f}")
        )
        rows.append(
            f"| {f.setup} | {f.processes} | **{f.accepted_per_second:,.0f}** | "
            f"**{f.delivered_per_second:,.0f}** | {f.deliver_seconds:.1f} s | "
            f"{f.cpu_ms('api'):.2f} ({api_label}) | {workers_ms} | {postgres_ms} | "
            f"{f.idle_cpu:.2f} | {lock[0]} | {lock[1]} | {lock[2]} | {per_commit} |"
        )
    return (
        "\n".join(rows)
        + f"\n\n{figures[0].messages:,} messages per configuration, one recipient each, sent "
        f"by one client process ({CONCURRENCY} requests in flight, SigV4-signed v2 "
        "SendEmail) while the workers deliver into a loopback sink; every process, "
        f"PostgreSQL and the client share the machine's {os.cpu_count()} cores. Delivered/s "
        "runs from the first request to the last delivery recorded. CPU per message is each "
        "process's CPU time over the run divided by the messages; PostgreSQL's is every "
        "server process's. Idle CPU: all processes (and PostgreSQL) with nothing to do, "
        f"over {IDLE_SECONDS:.0f} s before the run. The append lock columns sample "
        f"`pg_locks` (and `pg_stat_activity` for the holder) every {POLL_SECONDS} s for the "
        "schema's advisory lock: the share of samples in which it was held; the share in "
        "which its holder was idle in its transaction (waiting for its own Python process), "
        "waiting on WAL, or running a statement (together, the held share); and how many "
        "transactions were queued for it on average. 1-minute load average "
        f"{figures[0].load:.2f} when the run started.\n"
    )


if __name__ == "__main__":
    measure(next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), MESSAGES))
