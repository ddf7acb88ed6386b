"""The ports the core expects the outside world to provide (implemented in ``adapters/``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol

import msgspec

from .events import Event


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the log holds it: where it sits, when it was written, its chain hash."""

    position: int
    stream_id: str
    version: int
    event: Event
    recorded_at: datetime
    hash: bytes


class AppendResult(msgspec.Struct, frozen=True):
    stream_id: str
    version: int
    first_position: int
    last_position: int


class ConcurrencyError(RuntimeError):
    """A writer appended with a stale expected version; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, but it is at {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventStore(Protocol):
    """An append-only log of streams with a global, strictly increasing position.

    Appends are durable when they return (or when the returned future resolves), and a
    stale ``expected_version`` raises ``ConcurrencyError`` without writing anything.
    Version 0 means "the stream must not exist yet".
    """

    def append(
        self, stream_id: str, expected_version: int, events: Sequence[Event]
    ) -> AppendResult:
        """Append and wait until durable."""
        ...

    def submit(
        self, stream_id: str, expected_version: int, events: Sequence[Event]
    ) -> Future[AppendResult]:
        """Append without waiting; the future resolves once the events are durable."""
        ...

    def read_stream(self, stream_id: str) -> list[StoredEvent]: ...

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[StoredEvent]:
        """Events with position greater than ``after``, in position order."""
        ...

    def last_position(self) -> int: ...

    def stream_version(self, stream_id: str) -> int: ...

    def put_content(self, data: bytes) -> str:
        """Store message content once, keyed by its SHA-256; returns the hex digest."""
        ...

    def get_content(self, sha256: str) -> bytes | None: ...

    def close(self) -> None: ...
