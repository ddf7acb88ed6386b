"""Time and identity sources: the only places sendtrail reads the clock or the random generator."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

_random = random.Random()


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (simulations and tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def new_uuid() -> uuid.UUID:
    """A random (version 4) UUID. Ids need uniqueness, not secrecy: the process's generator
    (seeded from the OS at start) is a tenth of the cost of reading the OS's entropy."""
    return uuid.UUID(int=_random.getrandbits(128), version=4)


def format_timestamp(when: datetime) -> str:
    """Fixed-width UTC ISO 8601 with milliseconds, so stored times sort as text."""
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
