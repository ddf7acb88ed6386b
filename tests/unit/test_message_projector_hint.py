"""The message projector takes a message's earlier state from the writing engine when it has
exactly that version, instead of loading the stream inside the append's transaction."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from sendtrail.adapters.sqlite_projections import MessageProjector
from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core.decider import decide
from sendtrail.core.ports import StoredEvent
from sendtrail.core.state import MessageState, fold

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def history() -> tuple[list[ev.Event], list[ev.Event]]:
    """A message accepted elsewhere (two events), then an attempt started here."""
    request = cmd.RequestSend(
        message_id="m-1",
        source="sender@example.com",
        destinations=("a@example.net",),
        operation="SendRawEmail",
        content_sha256="0" * 64,
        quota_recipients=1,
    )
    earlier = decide(request, None, AT)
    attempt = cmd.StartAttempt(message_id="m-1", recipients=("a@example.net",))
    return earlier, decide(attempt, fold(earlier), AT)


def apply(projector: MessageProjector, events: list[ev.Event], first_version: int) -> str:
    db = sqlite3.connect(":memory:")
    projector.setup(db)
    projector.apply(
        db,
        [
            StoredEvent(
                position=first_version + n,
                stream_id="m-1",
                version=first_version + n,
                event=event,
                recorded_at=AT,
                hash=b"",
            )
            for n, event in enumerate(events)
        ],
    )
    projector.committed()
    return str(db.execute("SELECT status FROM recipients").fetchone()[0])


def test_the_engine_state_at_the_right_version_spares_a_load() -> None:
    earlier, new = history()
    loads: list[str] = []

    def load(stream_id: str, before: int) -> list[ev.Event]:
        loads.append(stream_id)
        return earlier

    projector = MessageProjector(load_stream=load)
    projector.state_hint = lambda message_id: fold(earlier)
    assert apply(projector, new, len(earlier) + 1) == "sending"
    assert loads == []


def test_a_hint_at_another_version_is_not_used() -> None:
    earlier, new = history()
    loads: list[str] = []

    def load(stream_id: str, before: int) -> list[ev.Event]:
        loads.append(stream_id)
        return earlier

    stale: MessageState | None = fold(earlier[:1])  # one event behind
    projector = MessageProjector(load_stream=load)
    projector.state_hint = lambda message_id: stale
    assert apply(projector, new, len(earlier) + 1) == "sending"
    assert loads == ["m-1"]
