"""The headers SES changes on every accepted message, raw or built (DG:header-fields;
reference 1.7 and 2).

- `Message-ID` becomes `<message-id@domain>`: `email.amazonses.com` in us-east-1,
  `<region>.amazonses.com` elsewhere.
- `Date` becomes the acceptance time, in UTC.
- The X-SES-* control headers, which only instruct SES, and `Bcc` are removed.
- `MIME-Version: 1.0` is added when missing.

Everything else keeps its exact bytes: only the top-level header block is edited, so a
client's body, its encodings and its line endings go out as the client wrote them.
Replaced headers stay where they were; missing ones go at the end of the block, which is
where SES-delivered mail has them (a header list seen in public code ends with
`Date, Message-ID, X-SES-Outgoing, Feedback-ID`; OBS, exact placement UNCONFIRMED).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sendtrail.core import ids
from sendtrail.core.assembly.control_headers import CONTROL_HEADERS
from sendtrail.core.assembly.header_block import (
    HeaderBlock,
    RawField,
    join_header_block,
    make_field,
    split_header_block,
)

US_EAST_1_HEADER_DOMAIN: Final = "email.amazonses.com"

_REMOVED: Final = CONTROL_HEADERS | {"bcc"}
_REPLACED: Final = frozenset({"message-id", "date"})
# English names whatever the locale (strftime's %a and %b follow the locale).
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def header_domain_for_region(region: str) -> str:
    """The domain of the Message-ID header SES writes in `region`."""
    region = region.lower()
    return US_EAST_1_HEADER_DOMAIN if region == "us-east-1" else f"{region}.amazonses.com"


def format_date(moment: datetime) -> str:
    """RFC 5322 date in UTC, as SES writes it: `Wed, 27 Jan 2016 14:05:45 +0000`. The day
    is not zero-padded (`Fri, 1 Jan ...`), as JavaMail, whose texts SES returns, writes it."""
    if moment.tzinfo is None:
        raise ValueError("the acceptance time must be timezone-aware")
    utc = moment.astimezone(UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day} {_MONTHS[utc.month - 1]} {utc.year} "
        f"{utc:%H:%M:%S} +0000"
    )


def finalize(
    raw: bytes,
    message_id: str,
    header_domain: str,
    date: datetime,
    *,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The message as SES sends it. `message_id` is the bare SES id, `date` the
    acceptance time (timezone-aware). `extra_headers` (name, ASCII value) are appended
    last, for headers SES adds on the way out such as `X-SES-Outgoing` and `Feedback-ID`."""
    block = split_header_block(raw)
    # In the order they are appended when missing: Date, then Message-ID.
    replacements = {
        "date": make_field("Date", format_date(date), block.line_ending),
        "message-id": make_field(
            "Message-ID", ids.header_message_id(message_id, header_domain), block.line_ending
        ),
    }
    fields: list[RawField] = []
    for field in block.fields:
        if field.key in _REMOVED:
            continue
        if field.key in _REPLACED:
            # In place of the first one; a repeat (refused at acceptance) is dropped.
            replacement = replacements.pop(field.key, None)
            if replacement is not None:
                fields.append(replacement)
            continue
        fields.append(field)
    if not any(field.key == "mime-version" for field in fields):
        fields.append(make_field("MIME-Version", "1.0", block.line_ending))
    fields.extend(replacements.values())  # the ones the message did not have
    fields.extend(make_field(name, value, block.line_ending) for name, value in extra_headers)
    return join_header_block(HeaderBlock(fields, block.rest, block.line_ending))
