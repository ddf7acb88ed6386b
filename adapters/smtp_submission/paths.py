"""The arguments of MAIL FROM and RCPT TO: a path and its ESMTP parameters (RFC 5321 4.1.2).

``<local@domain> SIZE=123 BODY=8BITMIME``; a bare address without angle brackets is accepted
too, as most servers do. Whether the address itself is valid is the engine's rule
(``core.acceptance.addresses``), so the SMTP surface and the APIs agree on it.
"""

from __future__ import annotations

import re

import msgspec

from sendtrail.core.acceptance.addresses import parse_address
from sendtrail.core.acceptance.errors import SesError

# A quoted string may hold '<', '>' and spaces; anything else up to the closing bracket.
_ANGLE_PATH = re.compile(r'<((?:"(?:[^"\\]|\\.)*"|[^<>"\s])*)>')
_SHOWN_CHARACTER = re.compile(r"[^\x21-\x7e]")


class MailPath(msgspec.Struct, frozen=True):
    address: str  # as the client wrote it, without brackets or source route
    parameters: tuple[str, ...]  # "SIZE=123", "BODY=8BITMIME", as given


def strip_keyword(argument: str | None, keyword: str) -> str | None:
    """``"FROM:<a@b>"`` -> ``"<a@b>"`` for keyword ``"FROM:"``; None when it is missing."""
    if argument is None or argument[: len(keyword)].upper() != keyword:
        return None
    return argument[len(keyword) :].strip()


def parse_path(text: str) -> MailPath | None:
    """The path and its parameters, or None when the text is not a path at all."""
    if text.startswith("<"):
        match = _ANGLE_PATH.match(text)
        if match is None:
            return None
        address, rest = match[1], text[match.end() :]
        if rest and not rest[0].isspace():
            return None
    else:
        address, _, rest = text.partition(" ")
    # A source route (<@relay1,@relay2:user@domain>) is obsolete; RFC 5321 C says to ignore it.
    if address.startswith("@"):
        _, colon, address = address.partition(":")
        if not colon:
            return None
    return MailPath(address=address, parameters=tuple(rest.split()))


def is_valid_mailbox(address: str) -> bool:
    """A bare mailbox the engine accepts as a sender or recipient (no display name)."""
    if not address or "<" in address:
        return False
    try:
        parsed = parse_address(address)
    except SesError:
        return False
    return parsed.display_name is None


def shown(text: str, limit: int = 256) -> str:
    """``text`` safe to echo in a reply: printable ASCII only, and not too long."""
    return _SHOWN_CHARACTER.sub("?", text[:limit])


def parse_parameters(parameters: tuple[str, ...]) -> dict[str, str] | None:
    """``("SIZE=10", "BODY=8BITMIME")`` -> ``{"SIZE": "10", "BODY": "8BITMIME"}``; None when
    one is malformed (RFC 5321 esmtp-param: keyword [= value])."""
    parsed: dict[str, str] = {}
    for parameter in parameters:
        keyword, equals, value = parameter.partition("=")
        if not keyword.replace("-", "").isalnum() or (equals and not value):
            return None
        parsed[keyword.upper()] = value
    return parsed
