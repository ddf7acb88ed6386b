"""What the read side (read model, suppression list, registry, outbox) queries through.

Both stores hand out a ``reader()`` whose ``execute(sql, params)`` takes the same ``?``-style
SQL: on SQLite it is the calling thread's own ``sqlite3.Connection`` (nothing in between, so
the embedded path costs what it always did); on PostgreSQL a pooled reader that translates
the statement (``adapters/postgres_projections.py``). One query text serves both databases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from psycopg import errors as pg_errors

from .sqlite_store import connect


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class ReadConnection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Rows: ...


class Readable(Protocol):
    """A store: ``reader()`` is a connection the calling thread may query on."""

    def reader(self) -> ReadConnection: ...


# A projection table that was never set up (a store opened without its projector) reads as
# empty in the few places that allow it; each database names that error differently.
MISSING_TABLE: tuple[type[Exception], ...] = (sqlite3.OperationalError, pg_errors.UndefinedTable)


class SqliteFile:
    """A SQLite log's projections, read without opening its store (and its writer thread):
    what the CLI uses beside a running service."""

    def __init__(self, path: Path) -> None:
        self._db = connect(path)

    def reader(self) -> sqlite3.Connection:
        return self._db

    def close(self) -> None:
        self._db.close()
