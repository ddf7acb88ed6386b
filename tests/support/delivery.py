"""Helpers for the delivery tests: settings, accepted messages, and waiting for outcomes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from sendtrail.adapters.config import DeliverySettings, DnsSettings, FeedbackSettings, Settings
from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev

EHLO = "mta.sendtrail.test"
FEEDBACK_DOMAIN = "feedback.sendtrail.test"
RAW = (
    b"From: sender@example.com\r\nTo: someone@example.test\r\nSubject: hello\r\n"
    b"Message-ID: <t@example.com>\r\n\r\nHello there.\r\n.a line that starts with a dot\r\n"
)

# Short enough that a stalled server costs the suite little, long enough for a loaded machine.
FAST_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 2.0,
    "command_timeout": 2.0,
    "data_timeout": 2.0,
    "dns_timeout": 1.0,
    "attempt_timeout": 20.0,
}


def settings(
    *,
    nameserver: str | None = None,
    smtp_port: int = 25,
    routes: Mapping[str, str] | None = None,
    **delivery: Any,
) -> Settings:
    return Settings(
        feedback=FeedbackSettings(domain=FEEDBACK_DOMAIN),
        delivery=DeliverySettings(
            ehlo_name=EHLO,
            smtp_port=smtp_port,
            routes=dict(routes or {}),
            **{**FAST_TIMEOUTS, **delivery},
        ),
        dns=DnsSettings(nameservers=[nameserver] if nameserver else []),
    )


def accept(
    engine: Engine,
    *destinations: str,
    raw: bytes = RAW,
    max_delivery_seconds: int = 50_400,
) -> str:
    """A message accepted for delivery, its content in the store; returns its id."""
    message_id = engine.new_message_id()
    sha256 = engine.store.put_content(raw)
    engine.execute(
        cmd.RequestSend(
            message_id=message_id,
            source="sender@example.com",
            destinations=destinations,
            content_sha256=sha256,
            max_delivery_seconds=max_delivery_seconds,
        )
    )
    return message_id


def statuses(engine: Engine, message_id: str) -> dict[str, str]:
    view = engine.read_model.message(message_id)
    assert view is not None
    return {recipient.address: recipient.status for recipient in view.recipients}


def events_of(engine: Engine, message_id: str, kind: type[ev.Event]) -> list[Any]:
    return [s.event for s in engine.store.read_stream(message_id) if isinstance(s.event, kind)]


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        await asyncio.sleep(0.02)
