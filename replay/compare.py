"""Compare rebuilt projections with the live ones, and swap a rebuild in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from sendtrail.adapters.sqlite_projections import (
    ProjectionSet,
    default_projectors,
    events_table_loader,
    projection_position,
    projection_tables,
)
from sendtrail.adapters.sqlite_store import connect, decode_row
from sendtrail.core.chain import RawEvent
from sendtrail.core.notifications import Publisher

from .rebuild import Progress, RebuildResult, rebuild

PRIMARY_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "messages": ("message_id",),
    "recipients": ("message_id", "address"),
    "resources": ("kind", "name"),
    "send_statistics": ("bucket",),
    "suppressed_destinations": ("address",),
    "feedback_inbox": ("content_sha256",),
    "notification_outbox": ("notification_id",),
}
POSITION_NAME: Final = "messages"


class Difference(msgspec.Struct, frozen=True):
    table: str
    key: tuple[object, ...]
    live: tuple[object, ...] | None
    rebuilt: tuple[object, ...] | None

    def describe(self) -> str:
        if self.live is None:
            return f"{self.table} {self.key}: missing from the live state, rebuilt {self.rebuilt}"
        if self.rebuilt is None:
            return f"{self.table} {self.key}: in the live state only: {self.live}"
        return f"{self.table} {self.key}: live {self.live} != rebuilt {self.rebuilt}"


class Verification(msgspec.Struct, frozen=True):
    rebuild: RebuildResult
    live_position: int
    differences: list[Difference]
    rows_compared: int


def verify_projections(
    log_path: Path,
    scratch: Path,
    progress: Progress | None = None,
    publisher: Publisher | None = None,
) -> Verification:
    """Rebuild up to the live projections' position and compare, table by table.

    The live side is read in one snapshot transaction, so a service writing meanwhile
    cannot make the two sides disagree.
    """
    live = connect(log_path, readonly=True)
    try:
        live.execute("BEGIN")
        position = projection_position(live, POSITION_NAME)
        result = rebuild(
            log_path, scratch, upto_position=position, progress=progress, publisher=publisher
        )
        rebuilt = sqlite3.connect(scratch)
        try:
            differences: list[Difference] = []
            compared = 0
            for table in projection_tables():
                for difference in _diff(table, live, rebuilt):
                    compared += 1
                    if difference is not None:
                        differences.append(difference)
        finally:
            rebuilt.close()
        live.execute("ROLLBACK")
    finally:
        live.close()
    return Verification(result, position, differences, compared)


Row = tuple[object, ...]


def _diff(
    table: str, live: sqlite3.Connection, rebuilt: sqlite3.Connection
) -> Iterator[Difference | None]:
    """Both SQLite sides in key order (SQLite's ORDER BY sorts as the merge compares)."""
    keys = PRIMARY_KEYS[table]
    sql = f"SELECT * FROM {table} ORDER BY {', '.join(keys)}"
    return diff_rows(table, live.execute(sql), rebuilt.execute(sql))


def diff_rows(
    table: str, live: Iterable[Row], rebuilt: Iterable[Row]
) -> Iterator[Difference | None]:
    """Merge two sides sorted by the table's primary key alike: one item per key, None
    where the rows agree."""
    width = len(PRIMARY_KEYS[table])
    left = _keyed(iter(live), width)
    right = _keyed(iter(rebuilt), width)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):  # type: ignore[operator]
            yield Difference(table, a[0], a[1], None)  # type: ignore[index]
            a = next(left, None)
        elif a is None or b[0] < a[0]:  # type: ignore[operator]
            yield Difference(table, b[0], None, b[1])
            b = next(right, None)
        else:
            yield None if a[1] == b[1] else Difference(table, a[0], a[1], b[1])
            a, b = next(left, None), next(right, None)


def _keyed(rows: Iterator[Row], width: int) -> Iterator[tuple[Row, Row]]:
    for row in rows:
        yield tuple(row[:width]), tuple(row)


def swap_in(
    log_path: Path, rebuilt: Path, rebuilt_position: int, publisher: Publisher | None = None
) -> int:
    """Replace the live projection tables with a rebuild; returns the events caught up.

    Events appended while the rebuild ran are folded in inside the same write transaction,
    so the live tables end exactly at the log's head.
    """
    db = connect(log_path)
    try:
        projectors = ProjectionSet(default_projectors(events_table_loader(db), publisher=publisher))
        # The live tables as this version makes them (a column added since they were
        # created, say), which is the rebuild's shape; a running service did so at its start.
        projectors.setup(db)
        db.execute("ATTACH DATABASE ? AS rebuilt", (str(rebuilt),))
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in projection_tables():
                db.execute(f"DELETE FROM main.{table}")
                db.execute(f"INSERT INTO main.{table} SELECT * FROM rebuilt.{table}")
            db.execute("DELETE FROM main.projection_positions")
            db.execute(
                "INSERT INTO main.projection_positions SELECT * FROM rebuilt.projection_positions"
            )
            caught_up = _catch_up(db, projectors, rebuilt_position)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("DETACH DATABASE rebuilt")
    finally:
        db.close()
    return caught_up


def _catch_up(db: sqlite3.Connection, projectors: ProjectionSet, after: int) -> int:
    rows = db.execute(
        "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
        "FROM events WHERE position > ? ORDER BY position",
        (after,),
    ).fetchall()
    if not rows:
        return 0
    projectors.apply(db, [decode_row(RawEvent(*row)) for row in rows])
    projectors.committed()
    return len(rows)
