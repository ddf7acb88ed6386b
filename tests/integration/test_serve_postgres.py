"""``sendtrail serve`` on PostgreSQL: ``[store] url`` puts the log, every projection and the
reads in a schema, and a simulator send travels the real delivery and feedback paths."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from support import postgres
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.config import load_settings
from sendtrail.adapters.engine import Engine

KEY, SECRET = "AKIDSENDTRAILEXAMPLE", "sendtrail-example-secret"
CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]
URL = postgres.URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A URL whose search path is a fresh schema (created here, dropped after)."""
    with fresh_schema("test_serve", create=True) as name:
        yield url_in_schema(name)


@pytest.fixture
def config(tmp_path: Path, schema_url: str) -> tuple[Path, int]:
    """One configuration for every process, whatever its role (the HTTP port is second)."""
    http = free_port()
    config = tmp_path / "sendtrail.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[store]\nurl = "{schema_url}"\n'
        f'[http]\nlisten = "127.0.0.1:{http}"\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[feedback]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[[credentials]]\naccess_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n'
        '[identities]\nverified = ["example.com"]\n'
        "[workers]\nheartbeat_seconds = 0.5\ndead_after_seconds = 3\n"
        f'http_listen = "127.0.0.1:{free_port()}"\n'
    )
    return config, http


@pytest.fixture
def service(config: tuple[Path, int]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    path, http = config
    process = _start(path)
    try:
        _wait_healthy(process, http)
        yield process, http
    finally:
        _stop(process)


def _start(config: Path, role: str = "all") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "serve", "--config", str(config), "--role", role],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop with SIGTERM; what the process printed, and what it logged."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _wait_healthy(process: subprocess.Popen[str], http: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                _, errors = process.communicate()
                raise RuntimeError(errors) from None
            time.sleep(0.1)


def _send(http: int, recipient: str) -> str:
    client = boto3.client(
        "sesv2",
        endpoint_url=f"http://127.0.0.1:{http}",
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    response = client.send_email(
        FromEmailAddress="hello@example.com",
        Destination={"ToAddresses": [recipient]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
    )
    return str(response["MessageId"])


def _wait_for(engine: Engine, message_id: str, event_type: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [type(stored.event).__name__ for stored in engine.store.read_stream(message_id)]
        if event_type in seen:
            return
        time.sleep(0.2)
    raise AssertionError(f"{message_id}: no {event_type} in {seen}")


def test_serve_delivers_and_bounces_on_postgres(
    service: tuple[subprocess.Popen[str], int], schema_url: str, tmp_path: Path
) -> None:
    _, http = service
    delivered = _send(http, "success@simulator.amazonses.com")
    bounced = _send(http, "bounce@simulator.amazonses.com")

    # Read back through an engine of this process on the same schema: the log and the
    # projections are in PostgreSQL, not in the data directory.
    with Engine.open(tmp_path / "reader", store_url=schema_url, durable=False) as engine:
        _wait_for(engine, delivered, "RecipientDelivered")
        _wait_for(engine, bounced, "RecipientBounced")
        success_view = engine.read_model.message(delivered)
        bounce_view = engine.read_model.message(bounced)

    assert not (tmp_path / "data" / "events.db").exists()
    assert success_view is not None and bounce_view is not None
    assert [r.status for r in success_view.recipients] == ["delivered"]
    assert bounce_view.recipients[0].bounce_type == "Permanent"


def test_an_api_process_accepts_and_a_worker_process_delivers(
    config: tuple[Path, int], schema_url: str, tmp_path: Path
) -> None:
    path, http = config
    api = _start(path, "api")
    worker = _start(path, "worker")
    try:
        _wait_healthy(api, http)
        delivered = _send(http, "success@simulator.amazonses.com")
        bounced = _send(http, "bounce@simulator.amazonses.com")
        with Engine.open(tmp_path / "reader", store_url=schema_url, durable=False) as engine:
            _wait_for(engine, delivered, "RecipientDelivered")
            # The simulator (in the worker) mails its bounce to the feedback receiver (in the
            # API process), which records it.
            _wait_for(engine, bounced, "RecipientBounced")
            roles = (
                engine.store.reader()
                .execute("SELECT role FROM sendtrail_workers ORDER BY role")
                .fetchall()
            )
        assert [role for (role,) in roles] == ["api", "worker"]
        metrics = _metrics(http)
        assert 'sendtrail_processes{role="api"} 1.0' in metrics
        assert 'sendtrail_processes{role="worker"} 1.0' in metrics
        # Finished deliveries are given back at once, not at the worker's next look.
        deadline = time.monotonic() + 2
        while "sendtrail_delivery_claims 0.0" not in metrics and time.monotonic() < deadline:
            time.sleep(0.1)
            metrics = _metrics(http)
        assert "sendtrail_delivery_claims 0.0" in metrics
        worker_url = "http://" + worker_listen(path)
        with urllib.request.urlopen(f"{worker_url}/healthz") as response:
            worker_health = response.status
        with urllib.request.urlopen(f"{worker_url}/metrics") as response:
            worker_metrics = response.read().decode()
        try:
            urllib.request.urlopen(f"{worker_url}/?Action=GetSendQuota")
            worker_api = 200
        except urllib.error.HTTPError as error:
            worker_api = error.code
    finally:
        worker_banner, worker_log = _stop(worker)
        api_banner, _ = _stop(api)
    assert "sendtrail is ready" in api_banner and "(api)" in api_banner
    assert "sendtrail worker is ready" in worker_banner
    assert worker_health == 200
    # The worker observes the delivery latency; its listener serves no SES API.
    assert "sendtrail_delivery_latency_seconds_count 1.0" in worker_metrics
    assert worker_api == 404
    assert "worker registered" in worker_log and "worker left" in worker_log


def _metrics(http: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics") as response:
        return str(response.read().decode())


def worker_listen(config: Path) -> str:
    listen = load_settings(config).workers.http_listen
    assert listen is not None
    return listen
