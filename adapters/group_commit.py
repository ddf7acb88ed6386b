"""Group commit, shared by the event stores: one writer thread, one transaction per batch.

Appends queue up; the writer takes whatever is waiting (up to ``MAX_BATCH``), hands it to the
store's ``_write`` as one transaction, and only then answers each caller: threads through a
``concurrent.futures.Future``, coroutines through their loop, each loop woken once per commit.
If a batch fails as a whole, its appends are redone one by one, so that one bad append cannot
fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Final

from sendtrail.core import events as ev
from sendtrail.core.ports import AppendResult

MAX_BATCH: Final = 2000

Outcome = AppendResult | BaseException


class Append:
    """One append waiting for the writer, answered through a thread or an asyncio future."""

    __slots__ = ("contents", "events", "expected", "future", "loop", "stream_id")

    def __init__(
        self,
        stream_id: str,
        expected: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.events = events
        self.contents = contents
        self.loop = loop
        self.future: Future[AppendResult] | asyncio.Future[AppendResult] = (
            Future() if loop is None else loop.create_future()
        )


_STOP = object()


class GroupCommitStore(ABC):
    """The append side of a store; subclasses write a batch in ``_write``."""

    def _start_writer(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Append | object] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name=name, daemon=True)
        self._writer.start()

    @abstractmethod
    def _write(self, batch: list[Append]) -> list[Outcome]:
        """Write the batch in one transaction; an outcome per append, in order."""

    def submit(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes] = (),
    ) -> Future[AppendResult]:
        request = Append(stream_id, expected_version, events, contents)
        self._enqueue(request)
        return request.future  # type: ignore[return-value]

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes] = (),
    ) -> AppendResult:
        return self.submit(stream_id, expected_version, events, contents).result()

    async def append_async(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        contents: Sequence[bytes] = (),
    ) -> AppendResult:
        """Append from a coroutine; the writer wakes each event loop once per commit."""
        loop = asyncio.get_running_loop()
        request = Append(stream_id, expected_version, events, contents, loop)
        self._enqueue(request)
        return await request.future  # type: ignore[misc]

    def _enqueue(self, request: Append) -> None:
        if self._closed:
            raise RuntimeError("the event store is closed")
        self._queue.put(request)

    def _stop_writer(self) -> bool:
        """Let the writer finish what is queued; False when it was stopped already."""
        if self._closed:
            return False
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join()
        return True

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[Append] = [first]  # type: ignore[list-item]
            stop_after = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._commit(batch)
            if stop_after:
                return

    def _commit(self, batch: list[Append]) -> None:
        outcomes: list[Outcome]
        try:
            outcomes = self._write(batch)
        except Exception as error:
            if len(batch) > 1:
                # One bad append must not fail the others: redo them one by one.
                for request in batch:
                    self._commit([request])
                return
            outcomes = [error]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Append, Outcome]]] = {}
        for request, outcome in zip(batch, outcomes, strict=True):
            if request.loop is None:
                _settle(request.future, outcome)
            else:
                by_loop.setdefault(request.loop, []).append((request, outcome))
        for loop, settled in by_loop.items():
            # One wake-up per loop and commit, however many coroutines were waiting.
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle(future: Future[AppendResult] | asyncio.Future[AppendResult], outcome: Outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _settle_all(settled: list[tuple[Append, Outcome]]) -> None:
    for request, outcome in settled:
        _settle(request.future, outcome)
