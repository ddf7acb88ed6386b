"""The account's resources, served from memory and changed only through the log.

Every change appends a ``ResourceSaved`` or ``ResourceDeleted`` event to the resource's own
stream; the in-memory copy (what the send path checks on every request) is updated after the
append is durable. At start-up the copy is loaded from the ``resources`` projection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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
        self._load()

    def _load(self) -> None:
        rows = self._store.reader().execute("SELECT kind, name, data FROM resources").fetchall()
        for kind, name, data in rows:
            self._items[res.stream_id(kind, name)] = ev.decode_resource(bytes(data))

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
            return True
