"""``sendtrail serve`` on PostgreSQL: ``[store] url`` puts the log, every projection and the
reads in a schema, and a simulator send travels the real delivery and feedback paths."""

from __future__ import annotations

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
from support import postgres
from support.postgres import fresh_schema, url_in_schema

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
def service(tmp_path: Path, schema_url: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
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
    )
    process = subprocess.Popen(
        [*CLI, "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(process, http)
        yield process, http
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


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
