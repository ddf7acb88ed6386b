"""A fresh PostgreSQL schema per test, for every test that needs the shared store.

Skipped, saying why, when PostgreSQL is unreachable; unless ``SENDTRAIL_REQUIRE_POSTGRES``
is set (as CI sets it), when an unreachable server fails the test instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from sendtrail.adapters.postgres_store import drop_schema

URL = os.environ.get("SENDTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")


def reachable_or_skip() -> None:
    try:
        psycopg.connect(URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if os.environ.get("SENDTRAIL_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {URL}: {error}")


def url_in_schema(schema: str) -> str:
    """A URL whose search path is ``schema``, as a ``[store] url`` names one."""
    separator = "&" if "?" in URL else "?"
    return f"{URL}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema(prefix: str = "test", *, create: bool = False) -> Iterator[str]:
    """A new schema name, dropped afterwards; ``create`` makes it (a store makes its own)."""
    reachable_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex}"
    if create:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        drop_schema(URL, name)
