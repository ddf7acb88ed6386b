"""The ``resources`` table: the current state of every identity, template, configuration set
and the account settings, folded from their streams."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from sendtrail.core import events as ev
from sendtrail.core.projections import timestamp
from sendtrail.core.resources import KIND_OF, split_stream_id

from .sqlite_projections import Logged, record_position

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


class ResourceProjector:
    name: Final = "resources"
    tables: Final = ("resources",)

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        for stored in events:
            event = stored.event
            if isinstance(event, ev.ResourceSaved):
                resource = event.resource
                db.execute(
                    "INSERT OR REPLACE INTO resources (kind, name, data, version, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (KIND_OF[type(resource)], _name(stored), ev.encode_resource(resource),
                     stored.version, timestamp(event.at)),
                )  # fmt: skip
            elif isinstance(event, ev.ResourceDeleted):
                db.execute(
                    "DELETE FROM resources WHERE kind = ? AND name = ?", (event.kind, _name(stored))
                )
        record_position(db, self.name, events[-1].position)

    def committed(self) -> None:
        """Nothing is cached between transactions."""

    def rolled_back(self) -> None:
        """Nothing is cached between transactions."""


def _name(stored: Logged) -> str:
    kind_and_name = split_stream_id(stored.stream_id)
    if kind_and_name is None:
        raise ValueError(f"a resource event in stream {stored.stream_id!r}")
    return kind_and_name[1]
