"""The log's hash chain: each event's hash covers its content and the previous hash.

Editing, deleting or reordering any stored event changes the hash recomputed at that
position, so ``first_break`` names the first position where the log stops being intact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from . import events as ev

GENESIS: Final = b"\x00" * 32


class RawEvent(msgspec.Struct, frozen=True):
    """A stored row before decoding: exactly the fields the hash covers."""

    position: int
    stream_id: str
    version: int
    type: str
    schema: int
    data: bytes
    recorded_at: str
    hash: bytes


def chain_hash(
    previous: bytes,
    position: int,
    stream_id: str,
    version: int,
    event_type: str,
    schema: int,
    data: bytes,
    recorded_at: str,
) -> bytes:
    header = f"{position}\x1f{stream_id}\x1f{version}\x1f{event_type}\x1f{schema}\x1f{recorded_at}"
    return hashlib.sha256(previous + header.encode() + b"\x1e" + data).digest()


def chain_events(
    previous: bytes,
    first_position: int,
    stream_id: str,
    first_version: int,
    events: Sequence[ev.Event],
    recorded_at: str,
) -> list[RawEvent]:
    """The rows that append ``events`` to a stream at the log's head, hashes chained on from
    ``previous`` (every store writes exactly these)."""
    rows = []
    for offset, event in enumerate(events):
        position, version = first_position + offset, first_version + offset
        data, event_type, schema = ev.encode(event), type(event).__name__, type(event).SCHEMA
        previous = chain_hash(
            previous, position, stream_id, version, event_type, schema, data, recorded_at
        )
        rows.append(
            RawEvent(position, stream_id, version, event_type, schema, data, recorded_at, previous)
        )
    return rows


class Break(msgspec.Struct, frozen=True):
    position: int
    reason: str


def first_break(rows: Iterable[RawEvent]) -> Break | None:
    """The first position at which the log is not intact, or None when all of it is."""
    previous_hash = GENESIS
    expected_position = 1
    stream_versions: dict[str, int] = {}
    for row in rows:
        if row.position != expected_position:
            reason = (
                f"position {expected_position} is missing"
                if row.position > expected_position
                else f"position {row.position} is out of order"
            )
            return Break(expected_position, reason)
        if not _well_typed(row):
            return Break(row.position, "stored row has fields of the wrong type")
        expected_hash = chain_hash(
            previous_hash,
            row.position,
            row.stream_id,
            row.version,
            row.type,
            row.schema,
            row.data,
            row.recorded_at,
        )
        if expected_hash != row.hash:
            return Break(row.position, "hash does not match its content and predecessor")
        expected_version = stream_versions.get(row.stream_id, 0) + 1
        if row.version != expected_version:
            return Break(
                row.position,
                f"stream {row.stream_id} jumps to version {row.version}, "
                f"expected {expected_version}",
            )
        try:
            ev.decode(row.data, row.type, row.schema)
        except ev.UnreadableEvent as error:
            return Break(row.position, f"undecodable event: {error}")
        stream_versions[row.stream_id] = row.version
        previous_hash = row.hash
        expected_position += 1
    return None


def _well_typed(row: RawEvent) -> bool:
    return (
        isinstance(row.data, bytes)
        and isinstance(row.hash, bytes)
        and isinstance(row.stream_id, str)
        and isinstance(row.type, str)
        and isinstance(row.recorded_at, str)
        and isinstance(row.version, int)
        and isinstance(row.schema, int)
    )
