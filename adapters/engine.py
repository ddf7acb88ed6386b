"""The engine: load a message's state, ask the core to decide, append what it decided.

This is the composition root embedders use: ``Engine.open(data_dir)`` gives an engine on the
embedded SQLite store, its projections updated in the same transactions as the log;
``Engine.open(data_dir, store_url="postgresql://...")`` the same on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core import ids
from sendtrail.core.decider import decide
from sendtrail.core.ports import AppendResult, ConcurrencyError
from sendtrail.core.state import MessageState, evolve, fold

from .clock import Clock, SystemClock, new_uuid
from .read_model import ReadModel
from .sqlite_projections import ProjectionSet, Projector, default_projectors
from .stores import EVENTS_FILE, EventStore, store_at

__all__ = ["EVENTS_FILE", "Engine"]


class Engine:
    def __init__(
        self,
        store: EventStore,
        *,
        clock: Clock | None = None,
        region: str = "us-east-1",
        cache_size: int = 10_000,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.region = region
        self.read_model = ReadModel(store)
        # Recently decided states spare a stream read; the store's version check keeps them
        # honest (a stale one fails with ConcurrencyError and is dropped).
        self._states: OrderedDict[str, MessageState] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        store_url: str | None = None,
        clock: Clock | None = None,
        region: str = "us-east-1",
        durable: bool = True,
        projectors: Sequence[Projector] | None = None,
        cache_size: int = 10_000,
    ) -> Engine:
        """An engine on the log in ``data_dir`` (SQLite), or on the PostgreSQL database
        ``store_url`` names (``[store] url``), with its projections kept in the same
        transactions either way."""
        projection_set = ProjectionSet(projectors or default_projectors())
        store = store_at(
            store_url, Path(data_dir), projector=projection_set, clock=clock, durable=durable
        )
        return cls(store, clock=clock, region=region, cache_size=cache_size)

    def new_message_id(self) -> str:
        return ids.message_id(self.region, self.clock.now(), new_uuid())

    def execute(self, command: cmd.Command, contents: Sequence[bytes] = ()) -> list[ev.Event]:
        """Decide and append, retrying on a concurrent change to the same message."""
        while True:
            state = self._current(command)
            events = decide(command, state, self.clock.now())
            try:
                self._append(command.message_id, state, events, contents).result()
            except ConcurrencyError:
                self._forget(command.message_id)
                continue
            self._remember(state, events)
            return events

    async def execute_async(
        self, command: cmd.Command, contents: Sequence[bytes] = ()
    ) -> list[ev.Event]:
        while True:
            state = self._current(command)
            events = decide(command, state, self.clock.now())
            expected = 0 if state is None else state.version
            try:
                await self.store.append_async(command.message_id, expected, events, contents)
            except ConcurrencyError:
                self._forget(command.message_id)
                continue
            self._remember(state, events)
            return events

    def submit(
        self, command: cmd.Command, contents: Sequence[bytes] = ()
    ) -> Future[list[ev.Event]]:
        """Decide now and append without waiting; the future resolves once durable.

        No retry on a concurrent change: the future fails with ``ConcurrencyError``. Wait for
        one command's future before submitting the next for the same message.
        """
        state = self.state(command.message_id)
        events = decide(command, state, self.clock.now())
        decided: Future[list[ev.Event]] = Future()

        def settle(appended: Future[AppendResult]) -> None:
            error = appended.exception()
            if error is not None:
                self._forget(command.message_id)
                decided.set_exception(error)
            else:
                self._remember(state, events)
                decided.set_result(events)

        self._append(command.message_id, state, events, contents).add_done_callback(settle)
        return decided

    def cached_state(self, message_id: str) -> MessageState | None:
        """The remembered state, without reading the log (None when not remembered)."""
        with self._lock:
            return self._states.get(message_id)

    def forget(self, message_id: str) -> None:
        """Drop a remembered state (a caller that knows the message is done with)."""
        self._forget(message_id)

    def _current(self, command: cmd.Command) -> MessageState | None:
        # A send request names a fresh id: no stream to read (the append's version check
        # still refuses a duplicate).
        if isinstance(command, cmd.RequestSend):
            return None
        return self.state(command.message_id)

    def state(self, message_id: str) -> MessageState | None:
        """The message's current state, folded from its stream (or remembered)."""
        with self._lock:
            cached = self._states.get(message_id)
        if cached is not None:
            return cached
        folded = fold([stored.event for stored in self.store.read_stream(message_id)])
        if folded is not None:
            self._remember(folded, [])
        return folded

    def close(self) -> None:
        self.read_model.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(
        self,
        message_id: str,
        state: MessageState | None,
        events: list[ev.Event],
        contents: Sequence[bytes],
    ) -> Future[AppendResult]:
        expected = 0 if state is None else state.version
        return self.store.submit(message_id, expected, events, contents)

    def _remember(self, state: MessageState | None, events: list[ev.Event]) -> None:
        for event in events:
            state = evolve(state, event)
        assert state is not None
        with self._lock:
            self._states[state.message_id] = state
            self._states.move_to_end(state.message_id)
            while len(self._states) > self._cache_size:
                self._states.popitem(last=False)

    def _forget(self, message_id: str) -> None:
        with self._lock:
            self._states.pop(message_id, None)
