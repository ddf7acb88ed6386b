"""An in-memory event store: the same contract as SQLite, for tests and throwaway engines."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future

from sendtrail.core import events as ev
from sendtrail.core.chain import GENESIS, RawEvent, chain_events
from sendtrail.core.ports import AppendResult, ConcurrencyError, StoredEvent

from .clock import Clock, SystemClock, format_timestamp, parse_timestamp
from .sqlite_store import content_address


class MemoryEventStore:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._rows: list[RawEvent] = []
        self._events: list[StoredEvent] = []
        self._streams: dict[str, list[int]] = {}
        self._content: dict[str, bytes] = {}

    def submit(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes] = (),
    ) -> Future[AppendResult]:
        future: Future[AppendResult] = Future()
        try:
            future.set_result(self.append(stream_id, expected_version, events, contents))
        except Exception as error:
            future.set_exception(error)
        return future

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes] = (),
    ) -> AppendResult:
        with self._lock:
            for data in contents:
                self._content.setdefault(content_address(data), data)
            if not events:
                return AppendResult(stream_id, expected_version, 0, 0)
            indexes = self._streams.get(stream_id, [])
            if len(indexes) != expected_version:
                raise ConcurrencyError(stream_id, expected_version, len(indexes))
            recorded_at = format_timestamp(self._clock.now())
            recorded_time = parse_timestamp(recorded_at)
            previous = self._rows[-1].hash if self._rows else GENESIS
            first = len(self._rows) + 1
            rows = chain_events(
                previous, first, stream_id, expected_version + 1, events, recorded_at
            )
            stored = [
                StoredEvent(
                    position=row.position,
                    stream_id=stream_id,
                    version=row.version,
                    event=event,
                    recorded_at=recorded_time,
                    hash=row.hash,
                )
                for row, event in zip(rows, events, strict=True)
            ]
            version = rows[-1].version
            self._streams.setdefault(stream_id, []).extend(r.position - 1 for r in rows)
            self._rows.extend(rows)
            self._events.extend(stored)
            return AppendResult(stream_id, version, first, first + len(events) - 1)

    def read_stream(self, stream_id: str) -> list[StoredEvent]:
        with self._lock:
            return [self._events[i] for i in self._streams.get(stream_id, [])]

    def read_all(self, after: int = 0, limit: int | None = None) -> Iterator[StoredEvent]:
        with self._lock:
            selected = self._events[after : None if limit is None else after + limit]
        yield from selected

    def read_raw(self, after: int = 0, limit: int | None = None) -> Iterator[RawEvent]:
        with self._lock:
            selected = self._rows[after : None if limit is None else after + limit]
        yield from selected

    def last_position(self) -> int:
        return len(self._rows)

    def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, ()))

    def put_content(self, data: bytes) -> str:
        self.append("", 0, (), (data,))
        return content_address(data)

    def get_content(self, sha256: str) -> bytes | None:
        return self._content.get(sha256)

    def close(self) -> None:
        """Nothing to release."""
