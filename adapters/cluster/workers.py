"""This process's row in ``sendtrail_workers``, kept fresh by a heartbeat thread.

Liveness is judged on the database's clock (``clock_timestamp()``), never on the hosts':
workers on several machines agree on who is dead even when their clocks drift. A worker
whose heartbeat is older than ``dead_after`` seconds is dead: its claims go to whoever asks
next. So a worker that cannot reach the database for that long must stop starting work, or
two workers would do it at once; ``fresh()`` says whether it may.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import psycopg

from ..postgres_store import PostgresEventStore, advisory_lock_key
from .tables import LIVE, create_tables

log = logging.getLogger("sendtrail.workers")

# Rows of workers dead this long, holding no claim any more, are deleted.
FORGET_AFTER_SECONDS: Final = 3600.0


class WorkerRegistry:
    def __init__(
        self,
        store: PostgresEventStore,
        role: str,
        *,
        heartbeat_seconds: float = 1.0,
        dead_after_seconds: float = 10.0,
    ) -> None:
        if heartbeat_seconds <= 0 or dead_after_seconds <= 2 * heartbeat_seconds:
            raise ValueError("dead_after_seconds must exceed two heartbeats")
        self.store = store
        self.role = role
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after_seconds = dead_after_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_beat = 0.0  # time.monotonic() of the last heartbeat that was written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[], object]] = []

    @property
    def params(self) -> dict[str, object]:
        """The parameters every liveness query takes (``tables.LIVE``)."""
        return {"me": self.worker_id, "dead_after": self.dead_after_seconds}

    def start(self) -> None:
        with self.store.connection() as conn:
            create_tables(conn, advisory_lock_key(self.store.schema))
            conn.execute(
                "INSERT INTO sendtrail_workers (worker_id, role, host, pid, started_at, "
                "heartbeat_at) VALUES (%s, %s, %s, %s, clock_timestamp(), clock_timestamp())",
                (self.worker_id, self.role, socket.gethostname(), os.getpid()),
            )
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="sendtrail-heartbeat", daemon=True)
        self._thread.start()
        log.info("worker registered", extra={"worker_id": self.worker_id, "role": self.role})

    def on_beat(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` on the heartbeat thread after each heartbeat."""
        self._listeners.append(listener)

    def fresh(self) -> bool:
        """Whether this worker surely still counts as alive: its last heartbeat is younger
        than half the time after which the others would take its work over."""
        return time.monotonic() - self._last_beat < self.dead_after_seconds / 2

    def stop(self) -> None:
        """Leave: the row is marked dead at once (not deleted), so that whatever this
        process leaves unfinished is taken over now rather than when its leases end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            with self.store.connection() as conn:
                conn.execute(
                    "UPDATE sendtrail_workers SET heartbeat_at = '-infinity' WHERE worker_id = %s",
                    (self.worker_id,),
                )
        except psycopg.Error:
            log.warning("could not mark this worker as stopped; others wait for its heartbeat")
        log.info("worker left", extra={"worker_id": self.worker_id})

    def live_count(self, roles: tuple[str, ...]) -> int:
        """How many live processes have one of these roles (this one included)."""
        with self.store.connection() as conn:
            row = conn.execute(
                f"SELECT COUNT(*) FROM sendtrail_workers WHERE role = ANY(%(roles)s) AND {LIVE}",
                {**self.params, "roles": list(roles)},
            ).fetchone()
        return int(row[0]) if row else 1

    def _beat(self) -> None:
        last_cleanup = 0.0
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with self.store.connection() as conn:
                    conn.execute(
                        "UPDATE sendtrail_workers SET heartbeat_at = clock_timestamp() "
                        "WHERE worker_id = %s",
                        (self.worker_id,),
                    )
                    if time.monotonic() - last_cleanup > 60:
                        _forget_old_workers(conn)
                        last_cleanup = time.monotonic()
                self._last_beat = time.monotonic()
            except psycopg.Error as error:
                log.warning("heartbeat failed: %s", error)
                continue
            for listener in self._listeners:
                try:
                    listener()
                except Exception:
                    log.exception("heartbeat listener failed")


def _forget_old_workers(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "DELETE FROM sendtrail_workers w WHERE heartbeat_at < clock_timestamp() - "
        "make_interval(secs => %s) AND NOT EXISTS (SELECT 1 FROM delivery_claims c "
        "WHERE c.worker_id = w.worker_id) AND NOT EXISTS (SELECT 1 FROM notification_claims n "
        "WHERE n.worker_id = w.worker_id)",
        (FORGET_AFTER_SECONDS,),
    )
