"""A delivery process for the crash test: an engine and its scheduler on a data directory.

Runs until no recipient is left to deliver (or ``--timeout`` passes), printing one line per
second with the queue's state. The test kills it with SIGKILL in the middle of that.

    python delivery_worker.py --data DIR --nameserver 127.0.0.1:PORT --smtp-port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from sendtrail.adapters.config import DeliverySettings, DnsSettings, FeedbackSettings, Settings
from sendtrail.adapters.delivery import DeliveryScheduler
from sendtrail.adapters.engine import Engine

UNSETTLED = ("accepted", "sending", "soft-bounced")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    settings = Settings(
        feedback=FeedbackSettings(domain="feedback.sendtrail.test"),
        delivery=DeliverySettings(
            ehlo_name="mta.sendtrail.test",
            smtp_port=args.smtp_port,
            max_in_flight_per_domain=5,
            # Long: a stalled server keeps the attempts in flight until the test kills us.
            command_timeout=60.0,
            data_timeout=60.0,
        ),
        dns=DnsSettings(nameservers=[args.nameserver]),
    )
    engine = Engine.open(args.data)  # durable: what was acknowledged survives SIGKILL
    try:
        return asyncio.run(deliver(engine, settings, args.timeout))
    finally:
        engine.close()


async def deliver(engine: Engine, settings: Settings, timeout: float) -> int:
    scheduler = DeliveryScheduler.from_settings(engine, settings)
    await scheduler.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            counts = engine.read_model.status_counts()
            print(counts, flush=True)
            if not any(counts.get(status) for status in UNSETTLED):
                return 0
            await asyncio.sleep(0.2)
        return 1
    finally:
        await scheduler.stop(timeout=1.0)


if __name__ == "__main__":
    sys.exit(main())
