"""Replay of a 1,000,000-event log into every projection, with memory sampled as it goes.

The log is made once by ``sendtrail simulate`` (kept in bench/results/ for later runs).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sendtrail.replay.rebuild import rebuild
from sendtrail.replay.simulate import simulate

from .record import rss_mib

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_EVENTS = 1_000_000


def _log() -> Path:
    data = RESULTS / "replay-log"
    log = data / "events.db"
    if log.exists() and _count(log) >= TARGET_EVENTS:
        return log
    if data.exists():
        for stale in data.iterdir():
            stale.unlink()
    # About 4.8 events per simulated message.
    messages = TARGET_EVENTS * 10 // 46
    started = time.perf_counter()
    summary = simulate(data, messages, seed=2026, durable=False)
    print(f"made a {summary.events:,}-event log in {time.perf_counter() - started:.0f}s")
    return log


def _count(log: Path) -> int:
    db = sqlite3.connect(log)
    try:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        db.close()


def run() -> str:
    log = _log()
    events = _count(log)
    samples: list[tuple[int, float]] = []
    next_sample = 0

    def progress(done: int, total: int) -> None:
        nonlocal next_sample
        if done >= next_sample:
            samples.append((done, rss_mib()))
            next_sample += total // 10

    before = rss_mib()
    result = rebuild(log, RESULTS / "replay-rebuilt.db", progress=progress)
    rate = result.events / result.seconds
    memory = ", ".join(f"{done / events:.0%}: {mib:.0f}" for done, mib in samples)
    lines = [
        f"Replay of a {events:,}-event log ({log.stat().st_size / 2**20:.0f} MiB) into every "
        f"projection: **{rate:,.0f} events/s** ({result.seconds:.1f} s).",
        "",
        f"Resident memory (MiB) before the replay: {before:.0f}; as it went, by share of the "
        f"log replayed: {memory}.",
    ]
    print("\n".join(lines))
    (RESULTS / "replay-rebuilt.db").unlink(missing_ok=True)
    return "\n".join(lines)
