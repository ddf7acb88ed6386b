"""A sendtrail engine with SMTP submission on loopback, on its own thread and event loop.

Tests drive it with real clients (smtplib, swaks, raw sockets) from the test thread, then
look at the engine (``server.app.engine.read_model``) to see what was accepted.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from sendtrail.adapters.app import App
from sendtrail.adapters.clock import Clock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.smtp_submission import SmtpSubmission
from sendtrail.core import events as ev

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
VERIFIED_DOMAIN = "example.com"

T = TypeVar("T")


def submission_settings(**overrides: Any) -> Settings:
    """Loopback listeners on ephemeral ports, one credential, ``example.com`` verified, quotas
    out of the way."""
    base: dict[str, Any] = {
        "identities": {"verified": [VERIFIED_DOMAIN]},
        "credentials": [{"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}],
        "smtp": {"listen": "127.0.0.1:0"},
        # Quotas are tested on purpose, not hit by accident in tests that send a lot.
        "account": {"max_send_rate": 100_000.0, "max_24_hour_send": 10_000_000.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            base.setdefault(key, {}).update(value)
        else:
            base[key] = value
    return msgspec.convert(base, Settings)


class SubmissionServer:
    def __init__(
        self,
        data_dir: Path,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        idle_timeout: float = 10.0,
        max_connections: int = 1000,
    ) -> None:
        self.settings = settings or submission_settings()
        self.data_dir = data_dir
        self.app = App(self.settings, data_dir, clock=clock, durable=False)
        self.smtp = SmtpSubmission(
            self.app, data_dir=data_dir, idle_timeout=idle_timeout, max_connections=max_connections
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-submission")

    def __enter__(self) -> SubmissionServer:
        self._thread.start()
        self.call(self.smtp.start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.smtp.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self.app.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def port(self) -> int:
        assert self.smtp.port is not None
        return self.smtp.port

    @property
    def tls_port(self) -> int:
        assert self.smtp.tls_port is not None
        return self.smtp.tls_port


def accepted_count(app: App) -> int:
    """How many sends the engine has accepted so far."""
    return sum(
        1 for stored in app.engine.store.read_all() if isinstance(stored.event, ev.SendAccepted)
    )


def client_tls_context() -> ssl.SSLContext:
    """Trusts the server's self-signed certificate, as a client configured for it would."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message(
    sender: str = f"Sender <news@{VERIFIED_DOMAIN}>",
    to: str = "reader@example.net",
    subject: str = "Hello",
    body: str = "Hi there.",
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join([*lines, "", body]) + "\r\n").encode()
