"""SES's timestamps in notifications: UTC, milliseconds and ``Z`` (``2016-01-27T14:59:38.237Z``)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


def ses_timestamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def ses_date_text(text: str) -> str:
    """A date found in feedback (ARF ``Arrival-Date``: RFC 5322 or ISO 8601) in SES's format;
    text that is neither is passed on as it came rather than dropped."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ses_timestamp(when)
