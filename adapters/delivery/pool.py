"""Open SMTP connections kept for reuse, with a limit per destination host.

A connection belongs to one destination (an MX address and port, and whether TLS was
required). Between messages it waits idle for a few seconds; a message to any domain served
by the same host takes it instead of paying for TCP, greeting, EHLO and STARTTLS again. A
connection is retired (QUIT) after a number of messages, so one session does not live forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import NamedTuple

from .smtp_client import SmtpConnection


class PoolKey(NamedTuple):
    ip: str
    port: int
    tls_required: bool


class Lease:
    """The right to use one connection slot of a destination while the ``lease`` block runs.

    ``connection`` is a reused one, or None: the holder opens one and sets it. ``reusable``
    says whether it may go back to the pool afterwards.
    """

    __slots__ = ("connection", "reusable")

    def __init__(self, connection: SmtpConnection | None) -> None:
        self.connection = connection
        self.reusable = False


class _Destination:
    __slots__ = ("idle", "open", "waiters")

    def __init__(self) -> None:
        self.idle: list[tuple[SmtpConnection, asyncio.TimerHandle]] = []
        self.open = 0  # connections (and slots for connections being opened), idle or busy
        self.waiters: deque[asyncio.Future[None]] = deque()


class ConnectionPool:
    def __init__(
        self,
        *,
        max_per_host: int = 20,
        max_messages_per_connection: int = 100,
        idle_seconds: float = 5.0,
    ) -> None:
        if max_per_host < 1 or max_messages_per_connection < 1:
            raise ValueError("connection limits must be at least 1")
        self._max_per_host = max_per_host
        self._max_messages = max_messages_per_connection
        self._idle_seconds = idle_seconds
        self._destinations: dict[PoolKey, _Destination] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        self.opened = 0  # new connections, and reused ones (for metrics)
        self.reused = 0

    @contextlib.asynccontextmanager
    async def lease(self, key: PoolKey) -> AsyncIterator[Lease]:
        destination = self._destinations.get(key)
        if destination is None:
            destination = self._destinations[key] = _Destination()
        lease = Lease(await self._acquire(destination))
        try:
            yield lease
        finally:
            self._release(key, destination, lease)

    async def close(self) -> None:
        """QUIT every idle connection; busy ones are closed when their lease ends."""
        self._closed = True
        for destination in self._destinations.values():
            while destination.idle:
                connection, timer = destination.idle.pop()
                timer.cancel()
                destination.open -= 1
                self._retire(connection)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # --- internals ------------------------------------------------------------------------

    async def _acquire(self, destination: _Destination) -> SmtpConnection | None:
        while True:
            while destination.idle:
                # The most recently used first: the others can age out and close.
                connection, timer = destination.idle.pop()
                timer.cancel()
                if connection.is_open:
                    self.reused += 1
                    return connection
                destination.open -= 1  # the remote closed it while it was idle
            if destination.open < self._max_per_host:
                destination.open += 1
                self.opened += 1
                return None
            waiter = asyncio.get_running_loop().create_future()
            destination.waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    destination.waiters.remove(waiter)

    def _release(self, key: PoolKey, destination: _Destination, lease: Lease) -> None:
        connection = lease.connection
        if (
            connection is not None
            and lease.reusable
            and not self._closed
            and connection.is_open
            and connection.transactions < self._max_messages
        ):
            timer = asyncio.get_running_loop().call_later(
                self._idle_seconds, self._expire, key, connection
            )
            destination.idle.append((connection, timer))
        else:
            destination.open -= 1
            if connection is not None:
                self._retire(connection)
        self._changed(key, destination)

    def _expire(self, key: PoolKey, connection: SmtpConnection) -> None:
        """An idle connection's time is up: close it."""
        destination = self._destinations.get(key)
        if destination is None:
            return
        for index, (idle, _) in enumerate(destination.idle):
            if idle is connection:
                del destination.idle[index]
                destination.open -= 1
                self._retire(connection)
                self._changed(key, destination)
                return

    def _changed(self, key: PoolKey, destination: _Destination) -> None:
        """A slot or an idle connection may be free: wake one waiter, or forget an unused key."""
        while destination.waiters:
            waiter = destination.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # "look again", not a hand-over: no slot can leak
                return
        if destination.open == 0:
            self._destinations.pop(key, None)

    def _retire(self, connection: SmtpConnection) -> None:
        if not connection.is_open:
            connection.close()
            return
        task = asyncio.get_running_loop().create_task(connection.quit())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
