"""SES-style message ids: ``<4-hex region prefix><12-hex epoch ms>-<uuid>-000000``.

The id carries its own creation time, so ids sort by time and a bare id says when the
message was sent. Time and the uuid come in as arguments: the core never reads a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

# Prefixes observed on real SES ids; other regions get a stable one of their own.
REGION_PREFIXES: Final[dict[str, str]] = {
    "us-east-1": "0100",
    "us-west-2": "0101",
    "eu-west-1": "0102",
    "eu-central-1": "0107",
    "us-west-1": "0111",
}
DEFAULT_PREFIX: Final = "0100"

MESSAGE_ID_PATTERN: Final = re.compile(
    r"^(?P<prefix>[0-9a-f]{4})(?P<millis>[0-9a-f]{12})-"
    r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-000000$"
)


def region_prefix(region: str) -> str:
    return REGION_PREFIXES.get(region.lower(), DEFAULT_PREFIX)


def message_id(region: str, at: datetime, unique: UUID) -> str:
    """The id SES would give a message accepted in ``region`` at ``at``."""
    millis = int(at.timestamp() * 1000)
    return f"{region_prefix(region)}{millis:012x}-{unique}-000000"


def is_message_id(text: str) -> bool:
    return MESSAGE_ID_PATTERN.match(text) is not None


def message_time(text: str) -> datetime:
    """When the message with this id was created (to the millisecond)."""
    match = MESSAGE_ID_PATTERN.match(text)
    if match is None:
        raise ValueError(f"not a message id: {text!r}")
    return datetime.fromtimestamp(int(match["millis"], 16) / 1000, tz=UTC)


def header_message_id(text: str, domain: str) -> str:
    """The ``Message-ID`` header value SES puts on delivered mail."""
    return f"<{text}@{domain}>"
