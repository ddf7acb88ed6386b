"""The audit commands against a PostgreSQL store: ``history``, ``verify`` and every form of
``replay`` read the schema ``[store] url`` names, not ``DATA/events.db``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.operator_postgres import drive, in_schema, sendtrail, write_config
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.engine import Engine


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test_audit", create=True) as name:
        yield name


@pytest.fixture
def logged(schema: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """A config naming the schema, and the messages an engine drove through it."""
    config = write_config(tmp_path, schema)
    engine = Engine.open(tmp_path / "data", store_url=url_in_schema(schema))
    try:
        messages = [drive(engine, index) for index in range(6)]
    finally:
        engine.close()
    return config, messages


def test_history_prints_the_timeline_from_postgres(logged: tuple[Path, list[str]]) -> None:
    config, messages = logged

    result = sendtrail("history", messages[0], "--config", str(config))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["v1", "SendRequested"],
        ["v2", "SendAccepted"],
        ["v3", "AttemptStarted"],
        ["v4", "RecipientDelivered"],
    ], result.stdout
    assert "destinations=r0@example.net" in lines[0]
    unknown = sendtrail("history", "no-such-message", "--config", str(config))
    assert unknown.returncode == 1 and "unknown message" in unknown.stderr


def test_verify_passes_then_names_the_tampered_position(
    logged: tuple[Path, list[str]], schema: str
) -> None:
    config, _ = logged
    intact = sendtrail("verify", "--config", str(config))
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout

    in_schema(schema, "UPDATE events SET data = data || '\\x00'::bytea WHERE position = 5")
    damaged = sendtrail("verify", "--config", str(config))

    assert damaged.returncode == 1
    assert "position 5" in damaged.stderr


def test_replay_verify_passes_then_fails_on_a_drifted_projection(
    logged: tuple[Path, list[str]], schema: str
) -> None:
    config, messages = logged
    equal = sendtrail("replay", "--verify", "--config", str(config))
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert "equals the live projections" in equal.stdout

    in_schema(
        schema,
        f"UPDATE recipients SET status = 'delivered' WHERE message_id = '{messages[1]}'",
    )
    drifted = sendtrail("replay", "--verify", "--config", str(config))

    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "recipients" in drifted.stdout and messages[1] in drifted.stdout


def test_replay_in_place_rebuilds_the_live_projections(
    logged: tuple[Path, list[str]], schema: str
) -> None:
    config, messages = logged
    in_schema(
        schema,
        f"UPDATE recipients SET status = 'delivered' WHERE message_id = '{messages[1]}'",
    )
    in_schema(schema, f"DELETE FROM messages WHERE message_id = '{messages[2]}'")
    drifted = sendtrail("replay", "--verify", "--config", str(config))
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr

    result = sendtrail("replay", "--config", str(config))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "replay: rebuilt every projection from 24 events (+0 appended meanwhile)" in (
        result.stdout
    )
    assert "replay [" in result.stderr and "24/24 events" in result.stderr  # the progress
    assert in_schema(
        schema, "SELECT status FROM recipients WHERE message_id = %s", (messages[1],)
    ) == [("hard-bounced",)]
    assert in_schema(schema, "SELECT COUNT(*) FROM messages") == [(6,)]
    equal = sendtrail("replay", "--verify", "--config", str(config))
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert not (config.parent / "data" / "events.db").exists()


def test_replay_in_place_names_a_schema_without_a_log(tmp_path: Path) -> None:
    with fresh_schema("test_audit_empty", create=True) as empty:
        config = write_config(tmp_path, empty)
        result = sendtrail("replay", "--config", str(config))
    assert result.returncode == 1
    assert "no event log" in result.stderr


def test_replay_until_rebuilds_the_past_into_a_file_and_leaves_the_live_state(
    schema: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, schema)
    engine = Engine.open(tmp_path / "data", store_url=url_in_schema(schema))
    try:
        before = [drive(engine, index) for index in range(3)]
        time.sleep(0.05)  # recording times have millisecond precision
        instant = datetime.now(UTC)
        time.sleep(0.05)
        after = [drive(engine, index) for index in range(3, 5)]
    finally:
        engine.close()
    live_before = in_schema(schema, "SELECT * FROM projection_positions ORDER BY name")

    result = sendtrail("replay", "--until", instant.isoformat(), "--config", str(config))

    assert result.returncode == 0, result.stdout + result.stderr
    target = tmp_path / "data" / f"replay-until-{instant:%Y%m%dT%H%M%SZ}.db"
    first, summary = result.stdout.split("\n", 1)
    assert first == (
        f"state as of {instant.isoformat()}: 12 events, in {target} "
        "(a SQLite file; the PostgreSQL projections are untouched)"
    )
    assert target.exists()
    assert json.loads(summary) == {
        "position": 12,
        "messages": len(before),
        "recipients_by_state": {"delivered": 2, "hard-bounced": 1},
        "queued_recipients": 0,
    }
    assert in_schema(schema, "SELECT * FROM projection_positions ORDER BY name") == live_before
    assert in_schema(schema, "SELECT COUNT(*) FROM messages") == [(len(before) + len(after),)]
