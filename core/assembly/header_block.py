"""A message's top-level header block as raw fields, so it can be edited without touching
a single byte of anything else.

SES rewrites a few headers of a client's message (Message-ID, Date, its X-SES-* control
headers). Re-serialising through the `email` package would re-fold, re-encode and
sometimes re-wrap the body; here each field keeps its exact bytes, folding and line
endings included, and the body is never looked at.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

# RFC 5322 field name: printable ASCII except ':', then optional blanks before the colon.
_FIELD_NAME: Final = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_LINE_BREAK: Final = re.compile(rb"\r?\n")


class RawField(NamedTuple):
    name: str  # as written, e.g. "Message-Id"
    raw: bytes  # the whole field, continuation lines and line endings included

    @property
    def key(self) -> str:
        """The name for comparisons: header names are case-insensitive."""
        return self.name.lower()

    def unfolded_value(self) -> bytes:
        """The value with the line breaks of folding removed and the blanks after the
        colon stripped: what notifications show as a header's `value`."""
        _, _, value = self.raw.partition(b":")
        return _LINE_BREAK.sub(b"", value).strip(b" \t")


class HeaderBlock(NamedTuple):
    fields: list[RawField]
    rest: bytes  # the blank separator line and the body, untouched
    line_ending: bytes  # the one the message uses, for any field we add


class MalformedHeaderBlock(ValueError):
    """The bytes do not start with a header block ended by a blank line."""


def split_header_block(raw: bytes) -> HeaderBlock:
    """Cut `raw` into its top-level fields and the rest. Raises `MalformedHeaderBlock` for
    a line that is neither a field nor a continuation before the blank line; acceptance
    has already refused such messages with SES's error, so this only guards misuse."""
    first_newline = raw.find(b"\n")
    ends_in_cr = raw[first_newline - 1 : first_newline] == b"\r"
    line_ending = b"\r\n" if first_newline == -1 or ends_in_cr else b"\n"
    fields: list[RawField] = []
    position = 0
    while position < len(raw):
        newline = raw.find(b"\n", position)
        end = len(raw) if newline == -1 else newline + 1
        line = raw[position:end]
        if line in (b"\r\n", b"\n"):
            return HeaderBlock(fields, raw[position:], line_ending)
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise MalformedHeaderBlock("the message starts with a continuation line")
            fields[-1] = RawField(fields[-1].name, fields[-1].raw + line)
        else:
            match = _FIELD_NAME.match(line)
            if match is None:
                raise MalformedHeaderBlock(f"not a header field: {line[:40]!r}")
            fields.append(RawField(match.group(1).decode("ascii"), line))
        position = end
    # The message ends inside its header block: end its last line, add the blank one.
    if fields and not fields[-1].raw.endswith(b"\n"):
        fields[-1] = RawField(fields[-1].name, fields[-1].raw + line_ending)
    return HeaderBlock(fields, line_ending, line_ending)


def join_header_block(block: HeaderBlock) -> bytes:
    return b"".join(field.raw for field in block.fields) + block.rest


def make_field(name: str, value: str, line_ending: bytes) -> RawField:
    """A new single-line field. The values SES writes (ids, dates, versions) are short
    ASCII, so they never need folding or encoding."""
    return RawField(name, f"{name}: {value}".encode("ascii") + line_ending)
