"""A message's timeline: every event of its stream, in order, with time and details."""

from __future__ import annotations

import json
from typing import Any, TextIO

from sendtrail.core import events as ev
from sendtrail.core.ports import StoredEvent

from .progress import format_time


def timeline_entry(stored: StoredEvent) -> dict[str, Any]:
    details = ev.to_builtins(stored.event)
    event_type = details.pop("type")
    at = details.pop("at")
    return {
        "message_id": stored.stream_id,
        "version": stored.version,
        "position": stored.position,
        "type": event_type,
        "at": at,
        "recorded_at": format_time(stored.recorded_at),
        "details": details,
    }


def print_history(stream: list[StoredEvent], out: TextIO, *, as_json: bool) -> None:
    for stored in stream:
        entry = timeline_entry(stored)
        if as_json:
            out.write(json.dumps(entry, separators=(",", ":")) + "\n")
            continue
        details = ", ".join(
            f"{key}={_short(value)}" for key, value in entry["details"].items() if value
        )
        out.write(f"{entry['at']}  v{entry['version']:<3} {entry['type']:<20} {details}\n")


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
