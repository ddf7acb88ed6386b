"""The `headers`, `headersTruncated` and `commonHeaders` of a notification's `mail` object
(reference 3.2 and the DG examples in 3.6 and 4).

They describe the message as the client submitted it, before `finalize`: the client's own
Message-ID and Date, and even X-SES-* headers, are what SES shows (the DG's Send example
lists `X-SES-MESSAGE-TAGS`; its bounce example shows `"messageId":"custom-message-ID"`).
A formatted send has no Message-ID of its own, and there `commonHeaders.messageId` is the
SES id (the DG's Send example).

- `headers`: every top-level field in order, value unfolded (line breaks removed, blanks
  kept) and not decoded.
- `headersTruncated`: SES truncates at 10 KB (reference 3.2). Fields are kept whole while
  the header block stays within the limit; how SES counts is UNCONFIRMED.
- `commonHeaders`: one entry per address (`"cc":["cc@example.com","cc2@example.com"]` as
  observed), display names unquoted where JavaMail would not quote them (the DG shows
  `"John Doe" <john@example.com>` as `John Doe <john@example.com>`); encoded-words in
  names and the subject are decoded, since JSON carries Unicode (UNCONFIRMED for names).
"""

from __future__ import annotations

import email.errors
import email.header
from typing import Final

import msgspec

from sendtrail.core.acceptance.address_syntax import AddressSyntaxError, parse_list
from sendtrail.core.assembly.header_block import RawField, split_header_block

HEADERS_LIMIT_BYTES: Final = 10 * 1024

# JavaMail's quotePhrase: a display name with any of these is written in quotes.
_PHRASE_SPECIALS: Final = frozenset('()<>@,;:\\".[]')


class NotificationHeader(msgspec.Struct, frozen=True):
    name: str
    value: str


class CommonHeaders(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """Keys in the order SES writes them; absent headers are left out."""

    return_path: str | None = None
    from_: tuple[str, ...] | None = msgspec.field(default=None, name="from")
    reply_to: tuple[str, ...] | None = None
    date: str | None = None
    to: tuple[str, ...] | None = None
    cc: tuple[str, ...] | None = None
    message_id: str | None = None
    subject: str | None = None


class NotificationHeaders(msgspec.Struct, frozen=True):
    headers: tuple[NotificationHeader, ...]
    headers_truncated: bool
    common_headers: CommonHeaders


def notification_headers(
    original: bytes, ses_message_id: str, *, limit: int = HEADERS_LIMIT_BYTES
) -> NotificationHeaders:
    """What notifications say about the message `original` (the bytes as submitted or as
    built by `build_simple`, before `finalize`)."""
    fields = split_header_block(original).fields
    kept: list[NotificationHeader] = []
    size = 0
    truncated = False
    for field in fields:
        size += len(field.raw)
        if size > limit:
            truncated = True
            break
        kept.append(NotificationHeader(field.name, _text(field)))
    return NotificationHeaders(
        headers=tuple(kept),
        headers_truncated=truncated,
        common_headers=common_headers(fields, ses_message_id),
    )


def common_headers(fields: list[RawField], ses_message_id: str) -> CommonHeaders:
    values: dict[str, list[str]] = {}
    for field in fields:
        values.setdefault(field.key, []).append(_text(field))

    def first(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    def addresses(name: str) -> tuple[str, ...] | None:
        found = values.get(name)
        if not found:
            return None
        return tuple(entry for value in found for entry in _address_entries(value))

    subject = first("subject")
    return CommonHeaders(
        return_path=first("return-path"),
        from_=addresses("from"),
        reply_to=addresses("reply-to"),
        date=first("date"),
        to=addresses("to"),
        cc=addresses("cc"),
        message_id=first("message-id") or ses_message_id,
        subject=None if subject is None else _decode_words(subject),
    )


def _text(field: RawField) -> str:
    # Headers are 7-bit in accepted mail; a stray 8-bit byte must not break the JSON.
    return field.unfolded_value().decode("utf-8", "replace")


def _address_entries(value: str) -> list[str]:
    """Each address of a header value as JavaMail's `InternetAddress` prints it; a group
    stays one entry, as JavaMail returns it. A value that does not parse is shown as is:
    a notification must never fail over a header acceptance let through."""
    try:
        entries = parse_list(value)
    except AddressSyntaxError:
        return [value]
    printed: list[str] = []
    for entry in entries:
        if entry.is_group or not entry.personal:
            printed.append(entry.text if entry.is_group else entry.addr)
        else:
            printed.append(f"{_quote_phrase(_decode_words(entry.personal))} <{entry.addr}>")
    return printed


def _quote_phrase(phrase: str) -> str:
    if not any(char in _PHRASE_SPECIALS or ord(char) < 0x20 for char in phrase):
        return phrase
    escaped = phrase.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _decode_words(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return text
