"""Attempts a previous process started and never finished (it crashed or was killed).

Such recipients stay ``sending`` with a lease in the future, so they are not due yet. In the
single-process (SQLite) setup nobody else can be working on them: the scheduler takes them
again at startup instead of waiting for their leases to end.
"""

from __future__ import annotations

from ..read_model import DueDelivery, ReadModel


def leased_recipients(read_model: ReadModel, limit: int = 1_000_000) -> list[DueDelivery]:
    """Queue entries in ``sending``: at most what was in flight when the process stopped."""
    return read_model.leased(limit)
