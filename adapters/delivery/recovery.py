"""Attempts a previous process started and never finished (it crashed or was killed).

Such recipients stay ``sending`` with a lease in the future, so they are not due yet. In the
single-process (SQLite) setup nobody else can be working on them: the scheduler takes them
again at startup instead of waiting for their leases to end.
"""

from __future__ import annotations

from pathlib import Path

from sendtrail.core import projections as proj
from sendtrail.core.lifecycle import State

from ..read_model import DueDelivery
from ..sqlite_store import connect

# TODO(read model owner): this belongs in ``ReadModel`` as ``leased(limit)``; it is a query
# on the same ``delivery_queue`` view, kept here until that method exists.
_LEASED = (
    f"SELECT {', '.join(proj.QUEUE_COLUMNS)} FROM delivery_queue WHERE status = ? "
    "ORDER BY due_at LIMIT ?"
)


def leased_recipients(path: Path, limit: int = 1_000_000) -> list[DueDelivery]:
    """Queue entries in ``sending``: at most what was in flight when the process stopped."""
    db = connect(path)
    try:
        rows = db.execute(_LEASED, (State.SENDING.value, limit)).fetchall()
    finally:
        db.close()
    return [DueDelivery(*row) for row in rows]
