"""A message's recipients come back in the order the request named them, on SQLite and on
PostgreSQL alike, however often their rows were rewritten; and a ``recipients`` table made
before the ``ordinal`` column gets it, filled from the log, when a store opens it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.operator_postgres import in_schema, sendtrail
from support.postgres import fresh_schema, url_in_schema

from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.replay.compare import verify_projections
from sendtrail.replay.postgres_verify import verify_postgres_projections

# Neither alphabetical nor the order the outcomes below touch them.
REQUESTED = ("zed@example.net", "amy@example.net", "mid@example.net", "bob@example.org")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the SQLite store in the data directory; else a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_schema("test_order", create=True) as schema:
        yield url_in_schema(schema)


def send_and_settle(engine: Engine) -> str:
    """One message to ``REQUESTED``; then outcomes rewrite its rows out of order."""
    message_id = engine.new_message_id()
    engine.execute(
        cmd.RequestSend(
            message_id=message_id,
            source="sender@example.com",
            destinations=REQUESTED,
            operation="SendEmail",
            quota_recipients=len(REQUESTED),
        )
    )
    engine.execute(cmd.StartAttempt(message_id=message_id, recipients=REQUESTED))
    engine.execute(
        cmd.ReportDelivered(message_id=message_id, recipient=REQUESTED[0], smtp_response="250 Ok")
    )
    engine.execute(
        cmd.ReportSoftFailure(
            message_id=message_id,
            recipient=REQUESTED[2],
            status="4.2.2",
            diagnostic_code="smtp; 452 4.2.2 Mailbox full",
            delay_type="MailboxFull",
            jitter=0.5,
        )
    )
    engine.execute(
        cmd.ReportDelivered(message_id=message_id, recipient=REQUESTED[1], smtp_response="250 Ok")
    )
    return message_id


def addresses(engine: Engine, message_id: str) -> tuple[str, ...]:
    view = engine.read_model.message(message_id)
    assert view is not None
    return tuple(recipient.address for recipient in view.recipients)


def test_recipients_come_back_in_request_order_after_updates(
    store_url: str | None, tmp_path: Path
) -> None:
    engine = Engine.open(tmp_path, store_url=store_url, durable=False)
    try:
        message_id = send_and_settle(engine)
        assert addresses(engine, message_id) == REQUESTED
        view = engine.read_model.message(message_id)
        assert view is not None
        assert [r.status for r in view.recipients] == [
            "delivered",
            "delivered",
            "soft-bounced",
            "sending",
        ]
    finally:
        engine.close()


def test_rewritten_rows_have_moved_on_postgres(tmp_path: Path) -> None:
    """Why the order is stored: PostgreSQL's physical order (what ``rowid`` used to be
    translated to) no longer follows the request once rows were updated."""
    with fresh_schema("test_order", create=True) as schema:
        engine = Engine.open(tmp_path, store_url=url_in_schema(schema), durable=False)
        try:
            message_id = send_and_settle(engine)
        finally:
            engine.close()
        physical = in_schema(
            schema,
            "SELECT address FROM recipients WHERE message_id = %s ORDER BY ctid",
            (message_id,),
        )
        stored = in_schema(
            schema,
            "SELECT address, ordinal FROM recipients WHERE message_id = %s ORDER BY ordinal",
            (message_id,),
        )
    assert tuple(address for (address,) in physical) != REQUESTED
    assert stored == [(address, ordinal) for ordinal, address in enumerate(REQUESTED)]


def test_a_duplicate_destination_keeps_its_first_place(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path, durable=False)
    try:
        message_id = engine.new_message_id()
        engine.execute(
            cmd.RequestSend(
                message_id=message_id,
                source="sender@example.com",
                destinations=("b@example.net", "a@example.net", "b@example.net"),
                operation="SendEmail",
                quota_recipients=3,
            )
        )
        assert addresses(engine, message_id) == ("b@example.net", "a@example.net")
    finally:
        engine.close()


def drop_ordinals(store_url: str | None, tmp_path: Path) -> None:
    """Make the table as it was before the column existed."""
    statement = "ALTER TABLE recipients DROP COLUMN ordinal"
    if store_url is None:
        db = sqlite3.connect(tmp_path / "events.db")
        try:
            db.execute(statement)
            db.commit()
        finally:
            db.close()
        return
    schema = store_url.rsplit("%3D", 1)[1]
    in_schema(schema, statement)


def test_a_table_without_ordinals_gets_them_from_the_log(
    store_url: str | None, tmp_path: Path
) -> None:
    engine = Engine.open(tmp_path, store_url=store_url, durable=False)
    try:
        messages = [send_and_settle(engine) for _ in range(3)]
    finally:
        engine.close()
    drop_ordinals(store_url, tmp_path)

    engine = Engine.open(tmp_path, store_url=store_url, durable=False)
    try:
        assert [addresses(engine, message_id) for message_id in messages] == [REQUESTED] * 3
    finally:
        engine.close()
    # The filled table equals a rebuild from the log, column for column.
    if store_url is None:
        verification = verify_projections(tmp_path / "events.db", tmp_path / "rebuilt.db")
    else:
        verification = verify_postgres_projections(store_url, tmp_path / "rebuilt.db")
    assert verification.differences == []
    assert verification.rows_compared > 0


def test_replay_in_place_brings_a_table_without_ordinals_up_to_date(
    store_url: str | None, tmp_path: Path
) -> None:
    """``sendtrail replay`` before any store of this version opened the tables: the swap
    sets them up first, so the rebuild's extra column has somewhere to go."""
    engine = Engine.open(tmp_path, store_url=store_url, durable=False)
    try:
        messages = [send_and_settle(engine) for _ in range(2)]
    finally:
        engine.close()
    drop_ordinals(store_url, tmp_path)
    config = tmp_path / "sendtrail.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    if store_url is not None:
        config.write_text(f'data_dir = "{tmp_path}"\n[store]\nurl = "{store_url}"\n')

    result = sendtrail("replay", "--config", str(config))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "rebuilt every projection from 12 events" in result.stdout
    engine = Engine.open(tmp_path, store_url=store_url, durable=False)
    try:
        assert [addresses(engine, message_id) for message_id in messages] == [REQUESTED] * 2
    finally:
        engine.close()
