"""The read side on PostgreSQL: suppression list, resource registry and read model answer
through the store's ``reader()``, with the same SQL as on SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sendtrail.adapters.app import App
from sendtrail.adapters.config import IdentitySettings, Settings, StoreSettings
from sendtrail.adapters.postgres_store import drop_schema

URL = os.environ.get("SENDTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")


@pytest.fixture
def settings() -> Iterator[Settings]:
    """Settings whose store is a fresh schema; skipped only when PostgreSQL is unreachable
    and ``SENDTRAIL_REQUIRE_POSTGRES`` is not set."""
    try:
        psycopg.connect(URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if os.environ.get("SENDTRAIL_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {URL}: {error}")
    schema = f"test_reads_{uuid.uuid4().hex}"
    separator = "&" if "?" in URL else "?"
    url = f"{URL}{separator}options=-csearch_path%3D{schema}"
    yield Settings(
        store=StoreSettings(url=url), identities=IdentitySettings(verified=["example.com"])
    )
    drop_schema(URL, schema)


def test_reads_come_from_the_postgres_projections(settings: Settings, tmp_path: Path) -> None:
    with App(settings, tmp_path, durable=False) as app:
        app.suppression.put("Someone@Example.com", "BOUNCE", actor="test")
        app.suppression.put("other@example.com", "COMPLAINT", actor="test")
        identities = sorted(item.name for item in app.registry)
        assert "example.com" in identities
        assert app.suppression.reason("someone@example.com") == "BOUNCE"
        page, token = app.suppression.list(reasons=("COMPLAINT",))
        assert [item.email_address for item in page] == ["other@example.com"] and token is None
        assert app.engine.read_model.queue_depth() == 0
        assert app.engine.read_model.notifications_pending() == 0
        assert app.engine.read_model.message("nothing-here") is None

    # A second process start loads the registry from the PostgreSQL projection.
    with App(settings, tmp_path, durable=False) as again:
        assert sorted(item.name for item in again.registry) == identities
        assert again.suppression.get("SOMEONE@example.com") is not None
    assert not (tmp_path / "events.db").exists()
