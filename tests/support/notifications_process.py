"""A notifier process for the restart test: an engine with the outbox and a notifier on a data
directory, sending to one webhook. The test kills it with SIGKILL mid-delivery.

    python notifications_process.py --data DIR --url URL [--until-done] [--timeout S]

With ``--until-done`` it exits 0 once no notification is pending; otherwise it runs until
killed (or ``--timeout``). It prints the outbox's counts by status twice a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from notifications_world import IDENTITY_TOPIC, open_engine, settings_for

from sendtrail.adapters.config import TopicSettings
from sendtrail.adapters.engine import EVENTS_FILE
from sendtrail.adapters.notifier import Notifier


def counts(data: Path) -> dict[str, int]:
    db = sqlite3.connect(data / EVENTS_FILE)
    try:
        rows = db.execute("SELECT status, COUNT(*) FROM notification_outbox GROUP BY status")
        return dict(rows.fetchall())
    finally:
        db.close()


async def run(data: Path, url: str, until_done: bool, timeout: float) -> int:
    engine = open_engine(data)  # durable: what was recorded survives SIGKILL
    settings = settings_for({IDENTITY_TOPIC: TopicSettings(url=url, format="raw")})
    notifier = Notifier(engine.store, settings)
    await notifier.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            now = counts(data)
            print(now, flush=True)
            if until_done and not now.get("pending"):
                return 0
            await asyncio.sleep(0.5 if not until_done else 0.05)
        return 1
    finally:
        await notifier.stop()
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--until-done", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    return asyncio.run(run(args.data, args.url, args.until_done, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
