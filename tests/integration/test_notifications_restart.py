"""A notifier process killed with SIGKILL mid-delivery: after a restart every notification
arrives, and the only duplicates are those that were in flight when it died."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from support.notifications_receiver import Behaviour, WebhookReceiver
from support.notifications_world import IDENTITY_TOPIC, deliver, open_engine, save_identity, send

from sendtrail.adapters.sqlite_store import SqliteEventStore
from sendtrail.core import events as ev

PROCESS = Path(__file__).parent.parent / "support" / "notifications_process.py"
MESSAGES = 30


def notifier_process(data: Path, url: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROCESS), "--data", str(data), "--url", url, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def delivered_in_log(data: Path) -> set[str]:
    with SqliteEventStore(data / "events.db") as store:
        return {
            stored.event.notification_id
            for stored in store.read_all()
            if isinstance(stored.event, ev.NotificationDelivered)
        }


def all_notification_ids(data: Path) -> set[str]:
    db = sqlite3.connect(data / "events.db")
    try:
        return {row[0] for row in db.execute("SELECT notification_id FROM notification_outbox")}
    finally:
        db.close()


def test_a_killed_notifier_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    engine = open_engine(tmp_path)
    save_identity(engine, engine.clock.now(), delivery_topic=IDENTITY_TOPIC)
    for index in range(MESSAGES):
        deliver(engine, send(engine, f"m-{index}", configuration_set=None))
    engine.close()
    expected = all_notification_ids(tmp_path)
    assert len(expected) == MESSAGES

    with WebhookReceiver() as receiver:
        receiver.behaviours["/hook"] = Behaviour(delay=1.0)  # keeps requests in flight
        first = notifier_process(tmp_path, receiver.url("/hook"), "--timeout", "30")
        try:
            receiver.wait_until(lambda: len(receiver.arrivals) >= 8, timeout=20)
            time.sleep(0.3)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        arrived_before_kill = set(receiver.arrivals)
        recorded = delivered_in_log(tmp_path)
        in_flight = arrived_before_kill - recorded
        assert in_flight, "the kill came when nothing was in flight"
        assert recorded, "nothing was delivered before the kill"

        receiver.behaviours["/hook"] = Behaviour()  # fast again
        second = notifier_process(tmp_path, receiver.url("/hook"), "--until-done")
        output, _ = second.communicate(timeout=30)
        assert second.returncode == 0, output

    arrivals = Counter(receiver.arrivals)
    assert set(arrivals) == expected  # every notification arrived
    duplicated = {notification_id for notification_id, n in arrivals.items() if n > 1}
    assert duplicated <= in_flight  # and only those in flight arrived twice
    assert all(n <= 2 for n in arrivals.values())
    assert delivered_in_log(tmp_path) == expected
