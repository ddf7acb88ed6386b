"""What a notification's ``mail`` says about the message: ``headers``, ``headersTruncated`` and
``commonHeaders`` (reference 3.2, and the examples in 3.6 and 4).

They describe the message as the client submitted it, read from the stored request content:
a raw message's own header block, or, for a formatted or templated send, the header block SES
would build from the request (From, To, Subject, MIME-Version, Content-Type, the request's
own headers).

- ``headers``: top-level fields in order, each value unfolded (line breaks removed, the
  folding blanks kept, as SES shows ``multipart/mixed;  boundary=...``), not decoded.
- ``headersTruncated``: SES truncates at 10 KB; fields are kept whole while the block fits.
- ``commonHeaders``: one entry per address, display names unquoted and decoded
  (``"John Doe" <john@example.com>`` becomes ``John Doe <john@example.com>``), the subject
  decoded; ``messageId`` is the client's Message-ID, or SES's id when there is none.

A formatted send's header block names its To and Cc recipients as the request did (Bcc
recipients are never in headers). The stdlib ``email`` package does the parsing (pure: no
I/O).
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
from collections.abc import Sequence
from typing import Final

import msgspec

from sendtrail.core.acceptance import handlebars
from sendtrail.core.acceptance.requests import (
    FormattedMessage,
    RawContent,
    SimpleContent,
    TemplateContent,
    decode_stored,
)

HEADERS_LIMIT_BYTES: Final = 10 * 1024

# commonHeaders keys in the order SES writes them, by the header that fills each.
_ADDRESS_KEYS: Final = {"return-path", "from", "sender", "reply-to", "to", "cc", "bcc"}
_COMMON_ORDER: Final = (
    ("return-path", "returnPath"),
    ("from", "from"),
    ("sender", "sender"),
    ("reply-to", "replyTo"),
    ("date", "date"),
    ("to", "to"),
    ("cc", "cc"),
    ("bcc", "bcc"),
    ("message-id", "messageId"),
    ("subject", "subject"),
)

Field = tuple[str, str]
Stored = RawContent | FormattedMessage


class MailHeaders(msgspec.Struct, frozen=True):
    headers: tuple[Field, ...]
    truncated: bool
    common: dict[str, str | list[str]]

    def headers_json(self) -> list[dict[str, str]]:
        return [{"name": name, "value": value} for name, value in self.headers]


def decode_request_content(data: bytes, operation: str) -> Stored:
    """The stored content of a send: the raw message itself, or the request's JSON."""
    try:
        return decode_stored(data, operation)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return RawContent(data=data)  # foreign content: read it as MIME


def mail_headers(
    content: Stored | None,
    *,
    message_id: str,
    template_subject: str | None = None,
    limit: int = HEADERS_LIMIT_BYTES,
) -> MailHeaders:
    """``template_subject`` is the stored template's subject, for a send naming one."""
    if content is None:
        fields: list[Field] = []
    elif isinstance(content, RawContent):
        fields = header_fields(content.data)
    else:
        fields = request_fields(content, template_subject)
    kept: list[Field] = []
    size = 0
    truncated = False
    for name, value in fields:
        size += len(name) + len(value.encode()) + 4  # "name: value\r\n"
        if size > limit:
            truncated = True
            break
        kept.append((name, value))
    return MailHeaders(tuple(kept), truncated, common_headers(fields, message_id))


def header_fields(data: bytes) -> list[Field]:
    """The top-level header fields of a MIME message, unfolded, in order."""
    fields: list[Field] = []
    for raw_line in data.split(b"\n"):
        line = raw_line.rstrip(b"\r")
        if not line:
            break
        text = line.decode("utf-8", "replace")  # a stray 8-bit byte must not break the JSON
        if text[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + text)
            continue
        name, colon, value = text.partition(":")
        if colon and name and " " not in name:
            fields.append((name, value.lstrip(" \t")))
    return fields


def request_fields(formatted: FormattedMessage, template_subject: str | None) -> list[Field]:
    """The header block SES builds for a formatted or templated send."""
    content = formatted.content
    fields: list[Field] = [("From", formatted.source)]
    for name, addresses in (
        ("Reply-To", formatted.reply_to),
        ("To", formatted.destination.to),
        ("Cc", formatted.destination.cc),
    ):
        if addresses:
            fields.append((name, ", ".join(addresses)))
    subject = _subject(content, template_subject)
    if subject is not None:
        fields.append(("Subject", _encoded(subject)))
    fields.extend(content.headers)
    fields.append(("MIME-Version", "1.0"))
    fields.append(("Content-Type", _content_type(content)))
    return fields


def common_headers(fields: Sequence[Field], ses_message_id: str) -> dict[str, str | list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name.lower(), []).append(value)
    common: dict[str, str | list[str]] = {}
    for header, key in _COMMON_ORDER:
        found = values.get(header)
        if header == "message-id":
            common[key] = found[0].strip() if found else ses_message_id
        elif not found:
            continue
        elif header == "return-path":
            common[key] = email.utils.parseaddr(found[0])[1] or found[0]
        elif header in _ADDRESS_KEYS:
            common[key] = [entry for value in found for entry in _addresses(value)]
        else:
            common[key] = _decoded(found[0]) if header == "subject" else found[0]
    return common


def _addresses(value: str) -> list[str]:
    """Each address of a header value as SES prints it; a value that does not parse is kept
    whole, since a notification must never fail over a header acceptance let through."""
    parsed = email.utils.getaddresses([value])
    if not parsed or any(not address for _, address in parsed):
        return [value]
    return [f"{_decoded(name)} <{address}>" if name else address for name, address in parsed]


def _decoded(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def _encoded(text: str) -> str:
    """A header value as it is written in the message: non-ASCII text as encoded words."""
    if text.isascii():
        return text
    return email.header.Header(text, "utf-8").encode(linesep="")


def _subject(content: SimpleContent | TemplateContent, template_subject: str | None) -> str | None:
    if isinstance(content, SimpleContent):
        return content.subject
    subject = content.subject if content.subject is not None else template_subject
    if subject is None:
        return None
    try:
        data = msgspec.json.decode(content.template_data)
        return handlebars.render(subject, data)
    except (msgspec.DecodeError, ValueError, LookupError, TypeError):
        return None  # the send failed to render: SES publishes a Rendering Failure instead


def _content_type(content: SimpleContent | TemplateContent) -> str:
    if content.attachments:
        return "multipart/mixed"
    if content.text is not None and content.html is not None:
        return "multipart/alternative"
    if isinstance(content, SimpleContent):
        if content.html is not None:
            return f"text/html; charset={content.html_charset or 'UTF-8'}"
        return f"text/plain; charset={content.text_charset or 'UTF-8'}"
    return f"text/{'html' if content.html is not None else 'plain'}; charset=UTF-8"
