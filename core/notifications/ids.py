"""Notification ids: stable, so a rebuild of the outbox gives the same ids and receivers can
drop duplicates.

An id is a name-based UUID (version 5) of the event's log position and the route (which
channel, which topic or address). SNS's own MessageIds are UUIDs too.
"""

from __future__ import annotations

import uuid
from typing import Final

NAMESPACE: Final = uuid.UUID("3f0d5c3e-8f1b-5a57-9c8e-5e4e6f7a1b2c")
STREAM_PREFIX: Final = "notification/"


def notification_id(position: int, route_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{position}:{route_key}"))


def stream_id(notification_id: str) -> str:
    """The stream of a notification's delivery events."""
    return f"{STREAM_PREFIX}{notification_id}"
