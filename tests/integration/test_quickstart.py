"""The README's first message, for real: ``sendtrail serve``, the AWS SDK and swaks, and every
mailbox simulator outcome travelling the real delivery and feedback paths."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

KEY, SECRET = "AKIDSENDTRAILEXAMPLE", "sendtrail-example-secret"
CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    def __init__(self, directory: Path) -> None:
        self.http, self.smtp, self.feedback = free_port(), free_port(), free_port()
        self.data = directory / "data"
        self.config = directory / "sendtrail.toml"
        self.config.write_text(
            f'data_dir = "{self.data}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.http}"\n'
            f'[smtp]\nlisten = "127.0.0.1:{self.smtp}"\n'
            f'[feedback]\nlisten = "127.0.0.1:{self.feedback}"\n'
            f'[[credentials]]\naccess_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n'
            '[identities]\nverified = ["example.com"]\n'
        )
        self.process = subprocess.Popen(
            [*CLI, "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    output = self.process.stderr.read() if self.process.stderr else ""
                    raise RuntimeError(output) from None
                time.sleep(0.1)

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "sesv2",
            endpoint_url=f"http://127.0.0.1:{self.http}",
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def history(self, message_id: str) -> list[dict[str, object]]:
        result = subprocess.run(
            [*CLI, "history", message_id, "--json", "--data", str(self.data)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return [json.loads(line) for line in result.stdout.splitlines()]

    def wait_for(self, message_id: str, event_type: str, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.history(message_id):
                if entry["type"] == event_type:
                    return entry
            time.sleep(0.2)
        raise AssertionError(f"{message_id}: no {event_type}: {self.history(message_id)}")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        stdout, _ = self.process.communicate(timeout=30)
        return stdout


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Running]:
    running = Running(tmp_path)
    yield running
    if running.process.poll() is None:
        running.process.kill()


def send(service: Running, recipient: str) -> str:
    response = service.client().send_email(
        FromEmailAddress="hello@example.com",
        Destination={"ToAddresses": [recipient]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
    )
    return str(response["MessageId"])


def test_every_simulator_outcome_through_the_real_paths(service: Running) -> None:
    success = send(service, "success@simulator.amazonses.com")
    bounce = send(service, "bounce@simulator.amazonses.com")
    ooto = send(service, "ooto@simulator.amazonses.com")
    complaint = send(service, "complaint+label@Simulator.AmazonSES.com")
    suppressed = send(service, "suppressionlist@simulator.amazonses.com")

    delivered = service.wait_for(success, "RecipientDelivered")
    bounced = service.wait_for(bounce, "RecipientBounced")
    service.wait_for(ooto, "AutoReplyReported")
    service.wait_for(complaint, "ComplaintReported")
    suppression = service.wait_for(suppressed, "RecipientSuppressed")
    points = boto3.client(
        "ses",
        endpoint_url=f"http://127.0.0.1:{service.http}",
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    ).get_send_statistics()["SendDataPoints"]
    with urllib.request.urlopen(f"http://127.0.0.1:{service.http}/metrics") as response:
        metrics = response.read().decode()
    banner = service.stop()

    assert "sendtrail_accepted_total 5.0" in metrics
    assert "sendtrail_delivered_total 3.0" in metrics  # success, ooto, complaint
    assert "sendtrail_bounced_total 2.0" in metrics  # bounce, suppressionlist
    assert "sendtrail_complained_total 1.0" in metrics
    assert "sendtrail_delivery_latency_seconds_count 3.0" in metrics

    # The simulator's bounces and complaints count toward nothing, as in SES.
    assert sum(point["DeliveryAttempts"] for point in points) == 5
    assert sum(point["Bounces"] + point["Complaints"] for point in points) == 0

    assert delivered["details"]["smtp_response"] == "250 2.6.0 Message received"  # type: ignore[index]
    assert bounced["details"]["bounce_type"] == "Permanent"  # type: ignore[index]
    assert bounced["details"]["diagnostic_code"] == "smtp; 550 5.1.1 user unknown"  # type: ignore[index]
    assert bounced["details"].get("suppression_reason") is None  # type: ignore[union-attr]
    assert suppression["details"]["bounce_subtype"] == "Suppressed"  # type: ignore[index]
    assert f"credentials:         {KEY} / {SECRET}" in banner


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is missing (apt install swaks)")
def test_the_readme_swaks_line_sends_a_message(service: Running) -> None:
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{service.smtp}", "--tls", "--auth", "LOGIN",
         "--auth-user", KEY, "--auth-password", SECRET, "--from", "hello@example.com",
         "--to", "success@simulator.amazonses.com"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    accepted = [line for line in result.stdout.splitlines() if "250 Ok " in line]
    message_id = accepted[-1].rsplit(" ", 1)[-1]
    assert service.wait_for(message_id, "RecipientDelivered")
