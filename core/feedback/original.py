"""What the report tells us about the original message, for correlation with our sends.

Preferred sources are structured: an enclosed ``message/rfc822`` or a ``text/rfc822-headers``
part. Many bounces only quote the original inline after a "copy of the message" line, or list
a few of its header fields in the notification, so those are read as a fallback.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass

from .mime import Headers, decode_header

_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
# Continuation lines are indented, but so are the fields of some inline header listings
# ("  To: a@b" / "  Subject: x"), so an indented "Name:" line is never a continuation.
_INLINE_FIELD = re.compile(
    r"(?im)^[ \t>]*(?P<name>message-id|references|to|cc)[ \t]*:[ \t]*(?P<value>.*"
    r"(?:\n[ \t]+(?![A-Za-z][\w-]*:)\S.*)*)"
)


@dataclass
class OriginalMessage:
    message_id: str | None
    references: tuple[str, ...]
    recipients: tuple[str, ...]


def _addresses(values: list[str]) -> list[str]:
    found: list[str] = []
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:
        pairs = []
    for _, address in pairs:
        address = address.strip().strip("<>")
        if "@" in address and address not in found:
            found.append(address)
    return found


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _MSGID.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    return f"<{value}>" if value and "@" in value and " " not in value else None


def from_headers(blocks: list[Headers]) -> OriginalMessage | None:
    """The first enclosed header block that identifies a message."""
    for headers in blocks:
        message_id = _message_id(headers.get("message-id"))
        references = tuple(_MSGID.findall(" ".join(headers.get_all("references"))))
        recipients = _addresses(headers.get_all("to") + headers.get_all("cc"))
        if message_id or references or recipients:
            return OriginalMessage(message_id, references, tuple(recipients))
    return None


def from_text(text: str) -> OriginalMessage | None:
    """Header fields of the original quoted inline in a notification text."""
    message_id = None
    references: list[str] = []
    recipients: list[str] = []
    for match in _INLINE_FIELD.finditer(text):
        name = match.group("name").lower()
        value = decode_header(re.sub(r"\s*\n\s*", " ", match.group("value")))
        if name == "message-id" and message_id is None:
            message_id = _message_id(value)
        elif name == "references" and not references:
            references = _MSGID.findall(value)
        elif name in ("to", "cc"):
            for address in _addresses([value]):
                if address not in recipients:
                    recipients.append(address)
    if message_id or references or recipients:
        return OriginalMessage(message_id, tuple(references), tuple(recipients))
    return None


def extract(blocks: list[Headers], inline_text: str | None) -> OriginalMessage:
    structured = from_headers(blocks)
    inline = from_text(inline_text) if inline_text else None
    if structured and structured.message_id:
        return structured
    if inline and (inline.message_id or not structured):
        if structured and not inline.recipients:
            return OriginalMessage(inline.message_id, inline.references, structured.recipients)
        return inline
    return structured or OriginalMessage(None, (), ())
