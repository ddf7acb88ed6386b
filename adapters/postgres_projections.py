"""The projectors' SQL on PostgreSQL: a connection wrapper for the writer's transaction.

The projectors are written against ``sqlite3.Connection`` (``execute``, ``executemany``,
``executescript`` with ``?`` placeholders) and the SQLite store passes them its connection
unchanged, so the embedded path pays nothing for PostgreSQL. The PostgreSQL store passes this
wrapper instead, which translates the few SQLite-only forms the projectors use:

* ``?`` placeholders become ``%s`` (the projectors' SQL holds no literal ``?`` or ``%``);
* ``INSERT OR IGNORE INTO`` becomes ``INSERT INTO ... ON CONFLICT DO NOTHING``;
* ``INSERT OR REPLACE INTO t (...)`` becomes an upsert on ``t``'s primary key, read from the
  catalogue, updating every other listed column: the projectors always list every column, so
  this is the row SQLite's delete-and-insert would leave;
* in schema scripts, ``BLOB`` becomes ``BYTEA``, ``INTEGER`` becomes ``BIGINT`` (positions
  and counters outgrow 32 bits) and ``CREATE VIEW IF NOT EXISTS`` becomes ``CREATE OR
  REPLACE VIEW``.

Translations are cached per statement text: the projectors use a handful of constant
statements, so each is rewritten once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\s", re.IGNORECASE)
_OR_REPLACE = re.compile(
    r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE | re.DOTALL
)
_SCRIPT_TYPES = ((re.compile(r"\bBLOB\b"), "BYTEA"), (re.compile(r"\bINTEGER\b"), "BIGINT"))
_VIEW_IF_NOT_EXISTS = re.compile(r"\bCREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\b", re.IGNORECASE)
_PRIMARY_KEY = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
ORDER BY array_position(i.indkey, a.attnum)
"""


class PostgresProjectionConnection:
    """What a projector calls on its connection, over the PostgreSQL writer's connection
    (inside its transaction; unqualified names resolve through its ``search_path``)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._translated: dict[str, str] = {}

    def execute(self, statement: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(self._translate(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[object]]) -> None:
        rows = list(rows)
        if rows:  # psycopg would still prepare the statement for nothing
            with self.conn.cursor() as cursor:
                cursor.executemany(self._translate(statement), rows)

    def executescript(self, script: str) -> None:
        """Run a schema script (several statements, no parameters)."""
        for pattern, replacement in _SCRIPT_TYPES:
            script = pattern.sub(replacement, script)
        script = _VIEW_IF_NOT_EXISTS.sub("CREATE OR REPLACE VIEW", script)
        self.conn.execute(script.encode())

    def has_table(self, name: str) -> bool:
        """Whether ``name`` is a table on the search path (SQLite asks ``sqlite_master``)."""
        row = self.conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        return row is not None and row[0] is not None

    # --- translation ----------------------------------------------------------------------

    def _translate(self, statement: str) -> str:
        translated = self._translated.get(statement)
        if translated is None:
            translated = self._translated[statement] = self._rewrite(statement)
        return translated

    def _rewrite(self, statement: str) -> str:
        text = statement.replace("?", "%s")
        if _OR_IGNORE.match(text):
            return _OR_IGNORE.sub("INSERT INTO ", text, count=1) + " ON CONFLICT DO NOTHING"
        replace = _OR_REPLACE.match(text)
        if replace is None:
            return text
        table, listed = replace.group(1), [c.strip() for c in replace.group(2).split(",")]
        key = self._primary_key(table)
        updates = ", ".join(
            f"{column} = excluded.{column}" for column in listed if column not in key
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        head = re.sub(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO", "INSERT INTO", text, flags=re.I)
        return f"{head} ON CONFLICT ({', '.join(key)}) {action}"

    def _primary_key(self, table: str) -> list[str]:
        rows = self.conn.execute(_PRIMARY_KEY, (table,)).fetchall()
        if not rows:
            raise ValueError(f"INSERT OR REPLACE into {table!r}, which has no primary key")
        return [str(row[0]) for row in rows]


class FetchedRows(list[Any]):
    """A statement's rows, fetched before its connection went back to the pool; answers the
    cursor calls the readers make."""

    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class PostgresReadConnection:
    """The read side's ``?``-style SQL on a pool. Each ``execute`` borrows a connection for
    one statement and returns its rows already fetched: no connection is held between
    statements, so one instance serves every thread."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._translated: dict[str, str] = {}

    def execute(self, statement: str, params: Sequence[object] = ()) -> FetchedRows:
        with self._pool.connection() as conn:
            return FetchedRows(conn.execute(self._translate(statement), tuple(params)).fetchall())

    def _translate(self, statement: str) -> str:
        translated = self._translated.get(statement)
        if translated is None:
            # Only the placeholders differ: the read side's SQL avoids SQLite-only forms
            # (no rowid: a message's recipients are ordered by their stored ordinal).
            translated = self._translated[statement] = statement.replace("?", "%s")
        return translated


def set_search_path(conn: psycopg.Connection[Any], schema: str) -> None:
    """Make ``schema`` the one unqualified projection tables are created and found in."""
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
