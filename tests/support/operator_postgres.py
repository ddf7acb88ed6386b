"""The operator commands against a PostgreSQL store: a configuration naming a fresh schema,
messages driven through it by an engine, and the command line run as a user runs it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from support.postgres import URL, url_in_schema

from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd

CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]
RAW = b"From: sender@example.com\r\nTo: r@example.net\r\nSubject: Hi\r\n\r\nHello\r\n"


def write_config(tmp_path: Path, schema: str) -> Path:
    """A configuration whose ``[store] url`` selects ``schema``; its data directory is
    ``tmp_path / "data"``."""
    config = tmp_path / "sendtrail.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[store]\nurl = "{url_in_schema(schema)}"\n'
    )
    return config


def drive(engine: Engine, index: int) -> str:
    """One message: sent, attempted, then delivered (even ``index``) or hard-bounced and
    suppressed (odd)."""
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


def in_schema(schema: str, statement: str, params: tuple[object, ...] = ()) -> list[Any]:
    """Run one statement in ``schema``; its rows, if it returns any."""
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        # No parameters, no placeholder parsing: a statement may then hold a literal ``%``.
        cursor = conn.execute(statement, params or None)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []
