"""The audit commands against a PostgreSQL store: ``history``, ``verify`` and ``replay
--verify`` read the schema ``[store] url`` names, not ``DATA/events.db``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support import postgres
from support.postgres import fresh_schema

from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd

CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]
URL = postgres.URL
RAW = b"From: sender@example.com\r\nTo: r@example.net\r\nSubject: Hi\r\n\r\nHello\r\n"


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("test_audit", create=True) as name:
        yield name


@pytest.fixture
def logged(schema: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """A config naming the schema, and the messages an engine drove through it."""
    separator = "&" if "?" in URL else "?"
    url = f"{URL}{separator}options=-csearch_path%3D{schema}"
    config = tmp_path / "sendtrail.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[store]\nurl = "{url}"\n')
    engine = Engine.open(tmp_path / "data", store_url=url)
    try:
        messages = [_drive(engine, index) for index in range(6)]
    finally:
        engine.close()
    return config, messages


def _drive(engine: Engine, index: int) -> str:
    """One message: sent, attempted, then delivered or hard-bounced (suppressing)."""
    message_id = engine.new_message_id()
    recipient = f"r{index}@example.net"
    raw = RAW + str(index).encode()
    engine.execute(
        cmd.RequestSend(
            message_id=message_id,
            source="sender@example.com",
            destinations=(recipient,),
            operation="SendRawEmail",
            content_sha256=hashlib.sha256(raw).hexdigest(),
            quota_recipients=1,
        ),
        (raw,),
    )
    engine.execute(cmd.StartAttempt(message_id=message_id, recipients=(recipient,)))
    if index % 2:
        engine.execute(
            cmd.ReportHardFailure(
                message_id=message_id,
                recipient=recipient,
                bounce_type="Permanent",
                bounce_subtype="General",
                status="5.1.1",
                diagnostic_code="smtp; 550 5.1.1 user unknown",
                feedback_id=f"{message_id}-bounce",
                suppression=cmd.SuppressionPolicy(reasons=("BOUNCE",)),
            )
        )
    else:
        engine.execute(
            cmd.ReportDelivered(message_id=message_id, recipient=recipient, smtp_response="250 Ok")
        )
    return message_id


def sendtrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def in_schema(schema: str, statement: str) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(statement)  # type: ignore[arg-type]


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


def test_replay_in_place_is_refused_on_postgres(logged: tuple[Path, list[str]]) -> None:
    config, _ = logged
    result = sendtrail("replay", "--config", str(config))
    assert result.returncode == 2
    assert "replay --verify" in result.stderr
