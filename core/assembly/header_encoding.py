"""Header fields written 7-bit safe: non-ASCII text as RFC 2047 encoded-words, long
values folded, no line over 998 characters.

The `email` package's own header objects re-parse and re-encode what they are given
(always as UTF-8), which would lose the `Charset` a request asked for; the classic
`email.header.Header` encoder keeps it, so it does the encoding here.
"""

from __future__ import annotations

import email.header
import email.utils
import re
from collections.abc import Iterable
from typing import Final

from sendtrail.core.assembly.model import InvalidContent

CRLF: Final = "\r\n"
# RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST within 998.
FOLD_AT: Final = 78
MAX_LINE: Final = 998

# Everything `str.splitlines` breaks at, which the encoder would turn into a new line.
_LINE_BREAKS: Final = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Text that can go into a header as it is: printable ASCII, space and tab.
_PLAIN: Final = re.compile(r"[\t\x20-\x7e]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def unstructured_field(name: str, text: str, charset: str | None = None) -> str:
    """`Name: value` for free text such as Subject, folded with CRLF and without a
    trailing line ending. Printable ASCII is written as is (whatever the charset); other
    text as encoded-words in `charset` (UTF-8 when None)."""
    # A line break inside a subject would end the header; mail clients show it as a blank.
    text = _LINE_BREAKS.sub(" ", text)
    if _PLAIN.fullmatch(text):
        encoded = _encode(name, text, "us-ascii")
    else:
        # Encoded-words carry any other character, control characters included, safely.
        encoded = _encode(name, text, charset or "utf-8")
    if any(len(line) > MAX_LINE for line in encoded.split(CRLF)):
        # An unbroken ASCII word longer than a line: only encoded-words can split inside it
        # (non-ASCII text is encoded-words already, and those are always split).
        encoded = _encode(name, text, "utf-8")
    return f"{name}: {encoded}"


def address_field(name: str, addresses: Iterable[str]) -> str:
    """`Name: a, b, ...` folded between addresses. Addresses are written as given (SES
    requires them 7-bit, with any display name already encoded); a non-ASCII display
    name from an embedded caller is encoded rather than sent raw."""
    entries = [_ascii_address(address) for address in addresses]
    if any(_CONTROL.search(entry) for entry in entries):
        raise InvalidContent(name, "an address contains a control character")
    lines: list[str] = []
    current = f"{name}:"
    for index, entry in enumerate(entries):
        piece = f" {entry}" + ("," if index < len(entries) - 1 else "")
        if len(current) + len(piece) > FOLD_AT and current != f"{name}:":
            lines.append(current)
            current = piece  # the leading blank makes it a continuation line
        else:
            current += piece
    lines.append(current)
    return CRLF.join(lines)


def _encode(name: str, text: str, charset: str) -> str:
    try:
        header = email.header.Header(text, charset=charset, header_name=name)
        return header.encode(linesep=CRLF, maxlinelen=FOLD_AT)
    except LookupError:
        raise InvalidContent(name, f"unknown charset {charset!r}") from None
    except UnicodeError:
        raise InvalidContent(name, f"the text cannot be encoded in {charset!r}") from None


def _ascii_address(address: str) -> str:
    if address.isascii():
        return address
    display_name, bare = email.utils.parseaddr(address)
    return email.utils.formataddr((display_name, bare), charset="utf-8")
