"""The account's resources, served from memory and changed only through the log.

Every change appends a ``ResourceSaved`` or ``ResourceDeleted`` event to the resource's own
stream; the in-memory copy (what the send path checks on every request) is updated after the
append is durable. At start-up the copy is loaded from the ``resources`` projection.

On a store shared by several processes, the others change resources too: ``refresh()`` loads
the projection again when it differs from what was loaded (``adapters/cluster`` calls it when
a process announces a change, and at every heartbeat in case an announcement was lost).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from sendtrail.core import events as ev
from sendtrail.core import resources as res

from .stores import EventStore

R = TypeVar("R", bound=res.Resource)


class ResourceRegistry:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._items: dict[str, res.Resource] = {}
        self._lock = threading.Lock()
        # Bumped on every change, so readers can cache what they derive from resources.
        self.generation = 0
        self._fingerprint = self._current_fingerprint()
        self._items = self._read_all()
        self._listeners: list[Callable[[], None]] = []

    def _read_all(self) -> dict[str, res.Resource]:
        rows = self._store.reader().execute("SELECT kind, name, data FROM resources").fetchall()
        return {
            res.stream_id(kind, name): ev.decode_resource(bytes(data)) for kind, name, data in rows
        }

    def _current_fingerprint(self) -> tuple[object, ...]:
        """Changes whenever a resource is saved or deleted: versions only grow, and a
        deletion lowers the count."""
        row = (
            self._store.reader()
            .execute(
                "SELECT COUNT(*), COALESCE(SUM(version), 0), COALESCE(MAX(updated_at), '') "
                "FROM resources"
            )
            .fetchone()
        )
        return tuple(row)

    def refresh(self) -> bool:
        """Load the resources again if another process changed them; True if it did."""
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return False
        items = self._read_all()
        with self._lock:
            self._items = items
            self._fingerprint = fingerprint
            self.generation += 1
        return True

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each change made through this registry."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # --- reading ------------------------------------------------------------------------

    def get(self, kind: type[R], name: str) -> R | None:
        item = self._items.get(res.stream_id(res.KIND_OF[kind], name))
        return item if isinstance(item, kind) else None

    def all(self, kind: type[R]) -> list[R]:
        with self._lock:  # management calls change the dict from worker threads
            items = list(self._items.values())
        return sorted((item for item in items if isinstance(item, kind)), key=lambda i: i.name)

    def by_name(self, kind: type[R]) -> dict[str, R]:
        return {item.name: item for item in self.all(kind)}

    def account(self, now: datetime, default: res.Account | None = None) -> res.Account:
        """The account's settings; ``default`` (or SES's defaults) until any are saved."""
        stored = self.get(res.Account, res.ACCOUNT_NAME)
        return stored or default or res.Account(name=res.ACCOUNT_NAME, created_at=now)

    def __iter__(self) -> Iterator[res.Resource]:
        with self._lock:
            return iter(list(self._items.values()))

    # --- changing -----------------------------------------------------------------------

    def save(self, resource: res.AnyResource, *, at: datetime, actor: str | None) -> None:
        stream = res.stream_id(res.KIND_OF[type(resource)], resource.name)
        with self._lock:
            version = self._store.stream_version(stream)
            self._store.append(stream, version, [ev.ResourceSaved(at=at, actor=actor,
                                                                  resource=resource)])  # fmt: skip
            self._items[stream] = resource
            self.generation += 1
        self._changed()

    def delete(
        self, kind: type[res.Resource], name: str, *, at: datetime, actor: str | None
    ) -> bool:
        kind_name = res.KIND_OF[kind]
        stream = res.stream_id(kind_name, name)
        with self._lock:
            current = self._items.get(stream)
            if current is None:
                return False
            version = self._store.stream_version(stream)
            self._store.append(
                stream,
                version,
                [ev.ResourceDeleted(at=at, actor=actor, kind=kind_name, name=current.name)],
            )
            del self._items[stream]
            self.generation += 1
        self._changed()
        return True
