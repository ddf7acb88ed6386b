"""Bounces written for humans: finding each failed recipient and the text about it.

There are many formats, but they share one shape: a recipient address opens a block, and the
diagnostic about that recipient follows until the next recipient. The heading forms are:

* the address first on its line, bare or bracketed, optionally followed by ``:``, a reason, a
  date or a display part (qmail/Yahoo ``<addr>:`` paragraphs, Exim's indented ``  addr``, Postfix
  ``<addr>: host ... said:``, Gmail's indented address, Exchange 2003 ``addr on <date>``,
  OpenSMTPD ``addr: reason``, ``* addr`` lists, ``>>> addr`` lines);
* a labelled address (``Recipient address: addr``, ``Recipient: <addr>``);
* an Exchange/Office 365 display line ``Name<mailto:addr>``;
* a Sendmail transcript line ``550 <addr>... reason``.

Some formats list every recipient first and give the diagnostics later, each under the address
again, so a recipient's block is the union of all its segments. When no heading is found, the
addresses mentioned in the notification text are used with the whole text as their block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .mime import ParsedMail

ADDRESS = (
    r"(?<![\w/.\-+=%])(?:\"[^\"\s@]{1,64}\"|[A-Za-z0-9!#$%&'*+=?^_`{|}~.\-]{1,128})"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})\.)+[A-Za-z0-9\-]{2,63}"
)
ADDRESS_RE = re.compile(ADDRESS)

_QUOTE = re.compile(r"^(?:[ \t]?>(?!>>))+[ \t]?")
_HEADING_FORMS = (
    # address first: "<addr>:", "  addr", "addr on date", "* addr", ">>> addr", "\"addr\":"
    re.compile(rf"^(?:>{{3}}|\*|-|\u2022)?\s*[<\"'(\[]?(?P<addr>{ADDRESS})[>\"')\]]?(?P<rest>.*)$"),
    # labelled: "Recipient address: addr", "Addressed To: addr"
    re.compile(
        rf"^(?:(?:final-|original-)?recipient(?:\s+address)?|addressed\s+to|address)\s*:\s*"
        rf"[<\"]?(?P<addr>{ADDRESS})(?P<rest>.*)$",
        re.IGNORECASE,
    ),
    # Exchange / Office 365: "Display Name<mailto:addr>"
    re.compile(rf"^[^<>@\n]{{0,120}}<mailto:(?P<addr>{ADDRESS})>(?P<rest>.*)$", re.IGNORECASE),
    # Sendmail transcript: "550 <addr>... User unknown", "<<< 550 5.1.1 <addr>... reason"
    re.compile(
        rf"^(?:<<<\s*)?[245]\d\d[ -](?:[245]\.\d{{1,3}}\.\d{{1,3}}\s+)?<(?P<addr>{ADDRESS})>"
        r"(?P<rest>\.\.\..*)$"
    ),
)

# Where the returned copy of the original message starts inside a notification text.
_ORIGINAL_MARKER = re.compile(
    # Possessive quantifiers: a long run of dashes must not be re-scanned (quadratic time).
    r"(?im)^[ \t>|]*+(?:[-=*_#]{2,}+[ \t]*+)?(?:"
    r"below this line is a copy of the message"
    r"|this is a copy of (?:the|your) message"
    r"|enclosed is a copy of the message"
    r"|(?:the )?original (?:message|mail) (?:(?:as )?follows|headers?|is following|below)"
    r"|original message[ \t]*[-=*:]*[ \t]*$"
    r"|original (?:mail|message) info"
    r"|unsent message(?: below| follows)"
    r"|returned message[ \t]*[-=*]*[ \t]*$"
    r"|the header of the original message"
    r"|(?:the )?message headers? follows?"
    r"|included is a copy of the message"
    r"|below is a copy of the original message"
    r"|copy of the original message"
    r"|en-t[êe]tes de message d'origine"
    r"|original message headers"
    r"|urspr[üu]ngliche nachricht"
    r")"
    # A quoted header block starting at the left margin is the returned message itself.
    r"|^(?:Received: ?from|Return-Path: ?<|DKIM-Signature:|X-Received:|ARC-Seal:)"
)

# An address in these positions is the sender of the original message, not a recipient.
_SENDER_CONTEXT = re.compile(
    rf"(?i)(?:mail\s+from|envelope[- ]from|envelope sender|return-path|x-postfix-sender"
    rf"|original[- ]sender|sender(?: address)?|from)\s*[:=]?\s*(?:rfc822;\s*)?[<\"\[]?"
    rf"(?P<addr>{ADDRESS})"
)

ROLE_ACCOUNTS = frozenset(
    {
        "postmaster",
        "mailer-daemon",
        "mailerdaemon",
        "support",
        "help",
        "abuse",
        "noreply",
        "no-reply",
        "do-not-reply",
        "donotreply",
        "root",
    }
)


@dataclass
class RecipientBlock:
    address: str
    text: str


@dataclass
class NotificationText:
    """The human-readable part of a report, without the returned original message."""

    text: str
    full_text: str


def notification_text(mail: ParsedMail) -> NotificationText:
    parts = mail.notification_parts
    plain = [p for p in parts if p.content_type != "text/html"]
    chosen = plain if any(p.text.strip() for p in plain) else parts
    full = "\n\n".join(p.text.replace("\r", "") for p in chosen)
    cut_pieces = []
    for part in chosen:
        text = part.text.replace("\r", "")
        marker = _ORIGINAL_MARKER.search(text)
        cut_pieces.append(text[: marker.start()] if marker else text)
    return NotificationText("\n\n".join(cut_pieces), full)


def original_section(text: str) -> str | None:
    """The returned original message inside a notification text, when it is inline."""
    marker = _ORIGINAL_MARKER.search(text)
    if not marker:
        return None
    return text[marker.end() :]


def _clean_lines(text: str) -> list[str]:
    return [_QUOTE.sub("", line.rstrip()) for line in text.split("\n")]


def _heading(line: str) -> str | None:
    stripped = line.strip()
    if "@" not in stripped:
        return None
    for index, form in enumerate(_HEADING_FORMS):
        match = form.match(stripped)
        if not match:
            continue
        rest = match.group("rest").lstrip()
        # "<addr>... text" continuing a reply is a mention, unless a reply code opens the line.
        if index == 0 and rest.startswith("..."):
            return None
        return match.group("addr")
    return None


def _norm(address: str) -> str:
    return address.strip().strip("\"'<>").lower()


_MESSAGE_ID_LINE = re.compile(
    r"(?im)^[ \t>]*(?:message-id|in-reply-to|references|x-message-id)[ \t]*:.*$"
)


def _message_id_addresses(text: str) -> set[str]:
    """Message identifiers look like addresses; they never are recipients."""
    found = set()
    for line in _MESSAGE_ID_LINE.finditer(text):
        found.update(_norm(m.group(0)) for m in ADDRESS_RE.finditer(line.group(0)))
    return found


def sender_addresses(text: str) -> set[str]:
    """Addresses the text itself presents as the sender (``MAIL FROM:<...>`` and the like)."""
    return {_norm(m.group("addr")) for m in _SENDER_CONTEXT.finditer(text)}


def recipient_blocks(text: str, exclude: set[str]) -> tuple[list[RecipientBlock], str]:
    """Blocks per recipient in order of first appearance, plus the text before them."""
    lines = _clean_lines(text)
    exclude = exclude | sender_addresses(text)
    headings: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        address = _heading(line)
        if address and _norm(address) not in exclude:
            headings.append((index, address))
    if not headings:
        return [], text
    order: list[str] = []
    display: dict[str, str] = {}
    segments: dict[str, list[str]] = {}
    for position, (start, address) in enumerate(headings):
        key = _norm(address)
        if position > 0 and _norm(headings[position - 1][1]) == key:
            continue  # the previous segment already runs through this line
        end = len(lines)
        for later, other in headings[position + 1 :]:
            if _norm(other) != key:
                end = later
                break
        if key not in segments:
            order.append(key)
            display[key] = address.strip('"')
            segments[key] = []
        segments[key].append("\n".join(lines[start:end]))
    preamble = "\n".join(lines[: headings[0][0]])
    return [RecipientBlock(display[k], "\n".join(segments[k])) for k in order], preamble


def mentioned_addresses(text: str, exclude: set[str]) -> list[str]:
    """Addresses mentioned anywhere in the text, the fallback when no heading matched."""
    seen: dict[str, str] = {}
    exclude = exclude | sender_addresses(text) | _message_id_addresses(text)
    for match in ADDRESS_RE.finditer(text):
        address = match.group(0)
        key = _norm(address)
        if key in exclude or key in seen:
            continue
        seen[key] = address.strip('"')
    addresses = list(seen.values())
    if len(addresses) > 1:
        people = [a for a in addresses if a.split("@", 1)[0].lower() not in ROLE_ACCOUNTS]
        if people:
            addresses = people
    return addresses


_FAILURE_LINE = re.compile(
    r"(?:^|[\s'\"(\[#:=<>])(?:[45][0-5]\d(?=[\s\-:'\",;)\]]|$)|[45]\.\d{1,3}\.\d{1,3})"
)


def diagnostic_text(block: str, address: str | None = None, limit: int = 600) -> str | None:
    """A one-line diagnostic from a block.

    When a line carries a failure reply or status code, the diagnostic is that line and the
    rest of its paragraph (the remote server's answer); otherwise the whole block, without
    the bare address heading lines.
    """
    lines = block.split("\n")
    for index, line in enumerate(lines):
        if _FAILURE_LINE.search(line):
            paragraph = []
            for follower in lines[index:]:
                if not follower.strip():
                    break
                paragraph.append(follower.strip())
            block = "\n".join(paragraph)
            break
    kept = []
    for line in block.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if address and _norm(stripped.strip(":")) == _norm(address):
            continue
        kept.append(stripped)
    text = re.sub(r"\s+", " ", " ".join(kept)).strip()
    if not text:
        return None
    return text[:limit]
