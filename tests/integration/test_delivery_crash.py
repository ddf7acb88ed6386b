"""A delivery process killed with SIGKILL mid-delivery loses nothing once restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from support.delivery import accept
from support.dns_server import LoopbackDnsServer
from support.mx_server import STALL, LoopbackSmtpServer, Script, free_port

from sendtrail.adapters.engine import Engine

WORKER = Path(__file__).parent.parent / "support" / "delivery_worker.py"
MESSAGES = 20


def worker(data: Path, dns: LoopbackDnsServer, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, str(WORKER), "--data", str(data)),
            *("--nameserver", dns.address, "--smtp-port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_killed_worker_loses_nothing_and_duplicates_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    port = free_port()
    zone = {"crash.test": {"MX": ["10 mx.crash.test."]}, "mx.crash.test": {"A": ["127.0.0.2"]}}
    engine = Engine.open(tmp_path)
    recipients = [f"r{i}@crash.test" for i in range(MESSAGES)]
    message_ids = [accept(engine, recipient) for recipient in recipients]
    engine.close()

    # The server takes five messages, then stops answering at the end of DATA.
    script = Script(data=["250 2.0.0 Ok"] * 5 + [STALL], stall_seconds=60)
    with LoopbackDnsServer(zone) as dns, LoopbackSmtpServer("127.0.0.2", port, script) as sink:
        first = worker(tmp_path, dns, port)
        try:
            wait_for(lambda: sink.data_count >= 8)  # 5 taken, 3 (or more) stalled in flight
            time.sleep(0.2)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL

        engine = Engine.open(tmp_path)
        at_kill = {
            address: engine.read_model.message(mid).recipients[0].status  # type: ignore[union-attr]
            for mid, address in zip(message_ids, recipients, strict=True)
        }
        engine.close()
        in_flight = {address for address, status in at_kill.items() if status == "sending"}
        assert in_flight, at_kill  # the kill really came mid-delivery

        script.data = ["250 2.0.0 Ok"]  # the server recovers; so does the worker
        second = worker(tmp_path, dns, port)
        output, _ = second.communicate(timeout=30)
        assert second.returncode == 0, output

    engine = Engine.open(tmp_path)
    assert engine.read_model.status_counts() == {"delivered": MESSAGES}
    engine.close()
    received = Counter(sink.delivered_to())
    assert set(received) == set(recipients)
    duplicated = {address for address, times in received.items() if times > 1}
    assert duplicated <= in_flight
