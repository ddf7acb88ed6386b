"""``sendtrail serve`` as an operator runs it: starts, answers health and metrics, stops cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, deadline: float = 20.0) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sendtrail.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[http]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[feedback]\nlisten = "127.0.0.1:{free_port()}"\n'
    )
    return path


def test_serve_answers_health_and_metrics_and_stops_on_sigterm(config: Path) -> None:
    port = config.read_text().split("127.0.0.1:")[1].split('"')[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "sendtrail.adapters.cli", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = json.loads(wait_for(f"http://127.0.0.1:{port}/healthz"))
        metrics = wait_for(f"http://127.0.0.1:{port}/metrics").decode()
        assert health == {"status": "ok"}
        assert "sendtrail_queue_depth 0.0" in metrics
        for name in ("accepted", "rejected", "delivered", "bounced", "complained", "deferred"):
            assert f"sendtrail_{name}_total 0.0" in metrics
        assert "sendtrail_notifier_backlog 0.0" in metrics
        assert "sendtrail_delivery_latency_seconds_count 0.0" in metrics
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line["message"] == "http listening" for line in lines)
    assert lines[-1]["message"] == "stopped"


def test_serve_reports_a_bad_config_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[http]\nlisten = "nowhere"\n')

    result = subprocess.run(
        [sys.executable, "-m", "sendtrail.adapters.cli", "serve", "--config", str(bad)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    assert result.returncode == 2
    assert "http.listen" in result.stderr and "not host:port" in result.stderr
    assert "Traceback" not in result.stderr
