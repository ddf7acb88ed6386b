"""The read side on PostgreSQL: suppression list, resource registry and read model answer
through the store's ``reader()``, with the same SQL as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.app import App
from sendtrail.adapters.config import IdentitySettings, Settings, StoreSettings


@pytest.fixture
def settings() -> Iterator[Settings]:
    """Settings whose store is a fresh schema; skipped only when PostgreSQL is unreachable
    and ``SENDTRAIL_REQUIRE_POSTGRES`` is not set."""
    with fresh_schema("test_reads") as schema:
        yield Settings(
            store=StoreSettings(url=url_in_schema(schema)),
            identities=IdentitySettings(verified=["example.com"]),
        )


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
