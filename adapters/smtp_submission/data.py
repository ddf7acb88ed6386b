"""Reading the message after DATA: up to ``<CRLF>.<CRLF>``, dot-unstuffed, within a size limit.

Only CRLF ends a line here, so ``<LF>.<LF>`` or ``<LF>.<CRLF>`` never end the message (the
SMTP smuggling ambiguity). Lines of any length are kept: whether a line is too long is a
content rule the engine judges and words as SES does (``554 Transaction failed: ...``).
The bytes are passed on unmodified apart from line endings, which become CRLF everywhere.
"""

from __future__ import annotations

import asyncio
import re

_CRLF = b"\r\n"
_END_OF_DATA = b".\r\n"
_ANY_LINE_END = re.compile(rb"\r\n|\r|\n")


class MessageTooLong(Exception):
    """The message went over the limit; it was read to its end and discarded."""


async def read_message(reader: asyncio.StreamReader, size_limit: int) -> bytes:
    """The message body, or ``MessageTooLong`` once all of it has been read."""
    pieces: list[bytes] = []
    size = 0
    too_long = False
    at_line_start = True
    while True:
        try:
            piece = await reader.readuntil(_CRLF)
            line_ends = True
        except asyncio.LimitOverrunError as overrun:
            # A line longer than the reader's buffer: take what is there, the rest follows.
            piece = await reader.read(overrun.consumed)
            line_ends = False
        if at_line_start:
            if line_ends and piece == _END_OF_DATA:
                break
            if piece.startswith(b"."):
                piece = piece[1:]  # RFC 5321 4.5.2 transparency
        at_line_start = line_ends
        size += len(piece)
        if too_long:
            continue
        if size > size_limit:
            # Keep reading to the end (RFC 5321 4.2.5: reply after the data) but drop it all.
            too_long = True
            pieces.clear()
            continue
        pieces.append(piece)
    if too_long:
        raise MessageTooLong
    return normalise_line_endings(b"".join(pieces))


def normalise_line_endings(data: bytes) -> bytes:
    """Bare CR and bare LF become CRLF; a message already in CRLF is returned as is."""
    crlf = data.count(_CRLF)
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data
    return _ANY_LINE_END.sub(_CRLF, data)
