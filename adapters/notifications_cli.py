"""``sendtrail notifications list [--failed]`` and ``notifications retry ID...|--all-failed``.

``list`` reads the outbox; ``--failed`` shows the parked notifications and those still being
retried after failures. ``retry`` records ``NotificationRetried`` for each: the notification
is pending again, due now, with a fresh count of attempts. Like every command that writes
to the log, run ``retry`` while the service is stopped.

Both read ``DATA/events.db``, or the PostgreSQL store when ``store_url`` names one (the
configuration's ``[store] url``); ``retry`` then appends through that store, whose lock
orders its appends with every other process's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from sendtrail.core import events as ev
from sendtrail.core.notifications import stream_id
from sendtrail.core.ports import ConcurrencyError

from .clock import SystemClock
from .engine import EVENTS_FILE
from .notifier.outbox import OutboxReader, OutboxRow
from .outbox_projection import DELIVERED, PARKED, PENDING, OutboxProjector
from .read_connection import MISSING_TABLE
from .sqlite_projections import ProjectionSet, default_projectors
from .stores import store_at

FAILED_WHERE = f"status = '{PARKED}' OR (status = '{PENDING}' AND attempts > 0)"


def list_notifications(
    data_dir: str | Path, failed: bool, out: TextIO, *, store_url: str | None = None
) -> int:
    with _outbox(Path(data_dir), store_url) as outbox:
        if outbox is None:
            out.write(f"no event log at {Path(data_dir) / EVENTS_FILE}\n")
            return 1
        rows = _select(outbox, FAILED_WHERE if failed else "1 = 1")
    for row in rows:
        out.write(_describe(row) + "\n")
    label = "failed notifications" if failed else "notifications"
    out.write(f"{len(rows)} {label}\n")
    return 0


def retry_notifications(
    data_dir: str | Path,
    ids: Sequence[str],
    all_failed: bool,
    out: TextIO,
    *,
    store_url: str | None = None,
) -> int:
    with _outbox(Path(data_dir), store_url) as outbox:
        if outbox is None:
            out.write(f"no event log at {Path(data_dir) / EVENTS_FILE}\n")
            return 1
        chosen = _select(outbox, FAILED_WHERE) if all_failed else _select_ids(outbox, ids)
    found = {row.notification_id for row in chosen}
    missing = [notification_id for notification_id in ids if notification_id not in found]
    for notification_id in missing:
        out.write(f"unknown notification {notification_id}\n")
    retried = 0
    with store_at(store_url, Path(data_dir), projector=_projectors()) as store:
        for row in chosen:
            if row.status == DELIVERED:
                out.write(f"{row.notification_id}: already delivered, not retried\n")
                continue
            event = ev.NotificationRetried(
                at=SystemClock().now(), notification_id=row.notification_id, actor="cli"
            )
            try:
                store.append(stream_id(row.notification_id), row.version, [event])
            except ConcurrencyError:
                out.write(f"{row.notification_id}: changed meanwhile, not retried\n")
                continue
            retried += 1
            out.write(f"{row.notification_id}: pending again ({row.kind} to {row.target})\n")
    out.write(f"{retried} notifications retried\n")
    return 1 if missing else 0


def _projectors() -> ProjectionSet:
    """Every projection, so they all stay at the log's head (``replay --verify`` compares at
    one position); the outbox's own projector unless the defaults have it already."""
    projectors = default_projectors()
    if not any(isinstance(projector, OutboxProjector) for projector in projectors):
        projectors.append(OutboxProjector())
    return ProjectionSet(projectors)


@contextlib.contextmanager
def _outbox(data_dir: Path, store_url: str | None) -> Iterator[OutboxReader | None]:
    """The outbox: through the PostgreSQL store ``store_url`` names, or through a
    connection of its own on ``DATA/events.db`` (beside a running service, which holds the
    SQLite store); None when that file does not exist."""
    if store_url:
        with store_at(store_url, data_dir) as store:
            yield OutboxReader(store)
        return
    path = data_dir / EVENTS_FILE
    if not path.exists():
        yield None
        return
    reader = OutboxReader(path)
    try:
        yield reader
    finally:
        reader.close()


def _select(
    outbox: OutboxReader, where: str, parameters: tuple[object, ...] = ()
) -> list[OutboxRow]:
    try:
        return outbox.select(where, parameters)
    except MISSING_TABLE:  # the outbox was never set up: nothing notified yet
        return []


def _select_ids(outbox: OutboxReader, ids: Sequence[str]) -> list[OutboxRow]:
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    return _select(outbox, f"notification_id IN ({marks})", tuple(ids))


def _describe(row: OutboxRow) -> str:
    status = row.status
    if status == PENDING and row.attempts:
        status = f"retrying (next {row.next_attempt_at[:19]}Z)"
    fields = [
        row.notification_id,
        status,
        f"attempts={row.attempts}",
        f"{row.channel}:{row.kind}",
        row.target,
        f"message={row.message_id}",
        f"created={row.created_at[:19]}Z",
    ]
    if row.last_error and row.status != DELIVERED:
        fields.append(f"error={row.last_error}")
    return "  ".join(fields)
