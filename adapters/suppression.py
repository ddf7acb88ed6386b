"""The account-level suppression list: a projection of ``AddressSuppressed`` events.

Each address has its own stream (``suppression/<address>``), so adding and removing are
recorded with who did it. The list can be long, so it is not held in memory: the send path
and the API read the ``suppressed_destinations`` table, indexed by address.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import msgspec

from sendtrail.core import events as ev
from sendtrail.core.acceptance import errors
from sendtrail.core.projections import timestamp
from sendtrail.core.resources import SUPPRESSION

from .clock import Clock, parse_timestamp
from .read_connection import ReadConnection
from .sqlite_projections import Logged, record_position
from .stores import EventStore

REASONS: Final = ("BOUNCE", "COMPLAINT")
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS suppressed_destinations (
    address TEXT PRIMARY KEY,
    email_address TEXT NOT NULL,
    reason TEXT NOT NULL,
    last_update TEXT NOT NULL,
    message_id TEXT,
    feedback_id TEXT
);
CREATE INDEX IF NOT EXISTS suppressed_by_update ON suppressed_destinations (last_update);
"""


class SuppressedDestination(msgspec.Struct, frozen=True):
    email_address: str
    reason: str
    last_update_time: datetime
    message_id: str | None = None
    feedback_id: str | None = None


def key(address: str) -> str:
    """Suppression matches addresses case-insensitively."""
    return address.strip().lower()


class SuppressionProjector:
    name: Final = "suppression"
    tables: Final = ("suppressed_destinations",)

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        for stored in events:
            event = stored.event
            if isinstance(event, ev.AddressSuppressed):
                db.execute(
                    "INSERT OR REPLACE INTO suppressed_destinations (address, email_address, "
                    "reason, last_update, message_id, feedback_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (key(event.address), event.address, event.reason, timestamp(event.at),
                     event.message_id, event.feedback_id),
                )  # fmt: skip
            elif (
                isinstance(event, ev.BounceEvent | ev.ComplaintReported)
                and event.suppression_reason is not None
            ):
                # A bounce or complaint that lists the address, decided with the message's
                # suppression settings: recorded in the message's own stream.
                db.execute(
                    "INSERT OR REPLACE INTO suppressed_destinations (address, email_address, "
                    "reason, last_update, message_id, feedback_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (key(event.recipient), event.recipient, event.suppression_reason,
                     timestamp(event.at), stored.stream_id, event.feedback_id),
                )  # fmt: skip
            elif isinstance(event, ev.AddressUnsuppressed):
                db.execute(
                    "DELETE FROM suppressed_destinations WHERE address = ?", (key(event.address),)
                )
        record_position(db, self.name, events[-1].position)

    def committed(self) -> None:
        """Nothing is cached between transactions."""

    def rolled_back(self) -> None:
        """Nothing is cached between transactions."""


class SuppressionList:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def _db(self) -> ReadConnection:
        return self._store.reader()

    def put(
        self,
        address: str,
        reason: str,
        *,
        actor: str | None,
        message_id: str | None = None,
        feedback_id: str | None = None,
    ) -> None:
        if reason not in REASONS:
            raise errors.bad_request(f"Invalid suppression reason: {reason}")
        if "@" not in address:
            raise errors.bad_request(f"Invalid email address: {address}")
        stream = f"{SUPPRESSION}/{key(address)}"
        self._store.append(
            stream,
            self._store.stream_version(stream),
            [ev.AddressSuppressed(at=self._clock.now(), actor=actor, address=address,
                                  reason=reason, message_id=message_id,
                                  feedback_id=feedback_id)],
        )  # fmt: skip

    def delete(self, address: str, *, actor: str | None) -> None:
        if self.get(address) is None:
            raise errors.not_found(
                f"Email address {address} does not exist on your suppression list."
            )
        stream = f"{SUPPRESSION}/{key(address)}"
        self._store.append(
            stream,
            self._store.stream_version(stream),
            [ev.AddressUnsuppressed(at=self._clock.now(), actor=actor, address=address)],
        )

    def get(self, address: str) -> SuppressedDestination | None:
        row = (
            self._db()
            .execute(
                "SELECT email_address, reason, last_update, message_id, feedback_id "
                "FROM suppressed_destinations WHERE address = ?",
                (key(address),),
            )
            .fetchone()
        )
        return None if row is None else _destination(row)

    def reason(self, address: str) -> str | None:
        row = (
            self._db()
            .execute(
                "SELECT reason FROM suppressed_destinations WHERE address = ?", (key(address),)
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def list(
        self,
        *,
        reasons: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 1000,
        next_token: str | None = None,
    ) -> tuple[list[SuppressedDestination], str | None]:
        """A page in address order; the token is where the next page starts."""
        after = _decode_token(next_token) if next_token else ""
        clauses, params = ["address > ?"], [after]
        if reasons:
            clauses.append(f"reason IN ({', '.join('?' * len(reasons))})")
            params += list(reasons)
        if start is not None:
            clauses.append("last_update >= ?")
            params.append(timestamp(start) or "")
        if end is not None:
            clauses.append("last_update <= ?")
            params.append(timestamp(end) or "")
        rows = (
            self._db()
            .execute(
                "SELECT email_address, reason, last_update, message_id, feedback_id, address "
                f"FROM suppressed_destinations WHERE {' AND '.join(clauses)} "
                "ORDER BY address LIMIT ?",
                [*params, page_size + 1],
            )
            .fetchall()
        )
        page = [_destination(row[:5]) for row in rows[:page_size]]
        token = _encode_token(rows[page_size - 1][5]) if len(rows) > page_size else None
        return page, token


def _destination(row: tuple[object, ...]) -> SuppressedDestination:
    email_address, reason, last_update, message_id, feedback_id = row
    return SuppressedDestination(
        email_address=str(email_address),
        reason=str(reason),
        last_update_time=parse_timestamp(str(last_update)),
        message_id=None if message_id is None else str(message_id),
        feedback_id=None if feedback_id is None else str(feedback_id),
    )


_TOKEN_PREFIX = "after:"


def _encode_token(address: str) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{address}".encode()).decode()


def _decode_token(token: str) -> str:
    try:
        text = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(_TOKEN_PREFIX):
        raise errors.SesError(
            errors.SesErrorDetail(
                condition=errors.Condition.BAD_REQUEST,
                code="InvalidNextToken",
                message="The NextToken is invalid.",
                v2_type="InvalidNextTokenException",
                v2_status=400,
                smtp_reply="",
            )
        )
    return text.removeprefix(_TOKEN_PREFIX)
