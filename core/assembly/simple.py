"""Assemble the MIME message of a formatted send (v1 SendEmail / SendTemplatedEmail after
rendering, v2 Simple or Template content), once per message.

The result has no Date and no Message-ID: `finalize` adds both, exactly as it does for a
client's raw message, so the two kinds of send leave acceptance the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from sendtrail.core.acceptance import content_rules
from sendtrail.core.assembly.header_encoding import CRLF, address_field, unstructured_field
from sendtrail.core.assembly.mime_body import build_body
from sendtrail.core.assembly.model import SimpleMessage
from sendtrail.core.assembly.validation import check_simple_message


def build_simple(message: SimpleMessage) -> bytes:
    """The message as bytes: 7-bit, CRLF line endings, no line over 998 characters.

    Raises `InvalidContent` for a v2 field outside its constraints or text its charset
    cannot encode, and SES's own errors (`SesError`) for a banned attachment extension or
    an extra header that repeats one SES allows once (`Duplicate header 'Subject'.`).
    """
    check_simple_message(message)
    fields = _address_fields(message)
    fields.append(unstructured_field("Subject", message.subject.data, message.subject.charset))
    # v2 `Headers` are printable ASCII within 998 characters per line (validated), so
    # they go in exactly as given, after the ones built from the request.
    fields.extend(f"{header.name}: {header.value}" for header in message.headers)
    fields.append("MIME-Version: 1.0")
    mime_fields, body = build_body(message)
    fields.extend(mime_fields)
    content_rules.check_duplicate_headers(_as_headers(fields))
    raw = "".join(field + CRLF for field in fields).encode("ascii") + body
    content_rules.check_line_lengths(raw)
    return raw


def _address_fields(message: SimpleMessage) -> list[str]:
    # The order JavaMail (SES's MIME library) gives a new message: From, Reply-To, To, Cc.
    fields = [address_field("From", [message.from_address])]
    for name, addresses in (
        ("Reply-To", message.reply_to),
        ("To", message.to),
        ("Cc", message.cc),
    ):
        if addresses:
            fields.append(address_field(name, addresses))
    return fields


def _as_headers(fields: Iterable[str]) -> list[content_rules.Header]:
    headers = []
    for field in fields:
        name, _, value = field.partition(":")
        headers.append(content_rules.Header(name=name, value=value.strip()))
    return headers
