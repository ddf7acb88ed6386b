"""A short account of a projection database: what state the mail was in."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def summarise(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        messages = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        by_state = dict(
            db.execute("SELECT status, COUNT(*) FROM recipients GROUP BY status ORDER BY status")
        )
        queued = db.execute("SELECT COUNT(*) FROM delivery_queue").fetchone()[0]
        position = db.execute(
            "SELECT COALESCE(MAX(position), 0) FROM projection_positions"
        ).fetchone()[0]
    finally:
        db.close()
    return {
        "position": position,
        "messages": messages,
        "recipients_by_state": by_state,
        "queued_recipients": queued,
    }
