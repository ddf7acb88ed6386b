"""Wake-ups between processes: PostgreSQL ``LISTEN/NOTIFY``.

An API node that accepts mail, any process whose append adds a notification to the outbox,
or one that changes a resource (an identity, a template...) publishes a topic ("delivery",
"notifications", "resources"); every process subscribed to it wakes the component concerned,
which then reads the queue (or loads the resources again). The workers therefore sleep long
between looks (their timers still bring retries and leases back) instead of polling hard.

Publishing costs the caller nothing: it sets a flag, and a thread sends one ``NOTIFY`` per
topic for however many publications came meanwhile (PostgreSQL folds identical ones within
a transaction too). A lost wake-up (the listening connection broke) delays work by at most a
worker's sleep; the listener reconnects by itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import psycopg
from psycopg import sql

from ..postgres_store import PostgresEventStore

log = logging.getLogger("sendtrail.wakeups")

TOPICS: Final = ("delivery", "notifications", "resources")
RECONNECT_SECONDS: Final = 1.0


def channel(schema: str, topic: str) -> str:
    """One channel per schema and topic: logs sharing a database do not wake each other."""
    return f"sendtrail_{hashlib.sha256(schema.encode()).hexdigest()[:16]}_{topic}"


class Wakeups:
    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store
        self._channels = {topic: channel(store.schema, topic) for topic in TOPICS}
        self._topics = {name: topic for topic, name in self._channels.items()}
        self._subscribers: dict[str, list[Callable[[], None]]] = {t: [] for t in TOPICS}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._publish = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from a thread of this class) whenever ``topic`` is published."""
        self._subscribers[topic].append(callback)

    def publish(self, topic: str) -> None:
        """Tell every subscribed process; returns at once, safe from any thread."""
        if topic not in self._channels:
            raise ValueError(f"unknown wake-up topic {topic!r}")
        with self._lock:
            self._pending.add(topic)
        self._publish.set()

    def start(self) -> None:
        for target, name in ((self._send, "publish"), (self._listen, "listen")):
            thread = threading.Thread(target=target, name=f"sendtrail-wakeups-{name}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._publish.set()
        for thread in self._threads:
            thread.join()

    def _send(self) -> None:
        while True:
            self._publish.wait()
            self._publish.clear()
            with self._lock:
                topics, self._pending = self._pending, set()
            if topics:
                try:
                    with self._store.connection() as conn:
                        for topic in sorted(topics):
                            conn.execute("SELECT pg_notify(%s, '')", (self._channels[topic],))
                except psycopg.Error as error:
                    log.warning("could not publish a wake-up: %s", error)
            if self._stop.is_set():
                return

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._store.url, autocommit=True) as conn:
                    for name in self._channels.values():
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
                    self._wake_all()  # anything published while we were not listening
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._deliver(notice)
            except psycopg.Error as error:
                log.warning("wake-up listener lost its connection: %s", error)
                self._stop.wait(RECONNECT_SECONDS)

    def _deliver(self, notice: Any) -> None:
        topic = self._topics.get(notice.channel)
        for callback in self._subscribers.get(topic or "", []):
            try:
                callback()
            except Exception:
                log.exception("wake-up subscriber failed")

    def _wake_all(self) -> None:
        for callbacks in self._subscribers.values():
            for callback in callbacks:
                callback()
