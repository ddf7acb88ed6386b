"""Finding SMTP reply codes and RFC 3463 enhanced status codes inside free text.

Diagnostic text nests replies: a relay wraps the remote server's answer in its own
("5.1.0 - Unknown address error 550-'5.2.2 Mailbox full'", or "554 4.4.7 expired <421 4.4.2
timed out>"). The innermost reply is the one the recipient's server actually gave, so among
the enhanced codes that follow a reply code we keep the last one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A code must stand on its own: not part of an IP address, a version number or a longer
# dotted sequence. A "-" before it is only allowed in a multi-line reply ("550-5.7.1").
ENHANCED_RE = re.compile(
    r"(?:^|(?<=[\s(#\[<'\"`:;,=*])|(?<=\d\d\d-))"
    r"([245])\.(\d{1,3})\.(\d{1,3})"
    r"(?![\d]|\.\d)"
)

# A three digit SMTP reply code (2yz/4yz/5yz, second digit 0-5) standing on its own.
REPLY_RE = re.compile(
    r"(?:^|(?<=[\s'\"(\[#:=<>]))"
    r"([245][0-5]\d)"
    r"(?=[\s\-:'\",;)\]]|$)(?![.]\d)"
)

# A reply code directly in front of an enhanced code marks that code as "attached".
_ATTACHED_GAP = re.compile(r"(?<![\d.])[245][0-5]\d[\s\-'\"#:]{1,12}$")


@dataclass(frozen=True)
class FoundCode:
    code: str
    start: int
    attached: bool


def enhanced_codes(text: str) -> list[FoundCode]:
    found = []
    for match in ENHANCED_RE.finditer(text):
        before = text[max(0, match.start() - 16) : match.start()]
        code = f"{match.group(1)}.{int(match.group(2))}.{int(match.group(3))}"
        found.append(FoundCode(code, match.start(), bool(_ATTACHED_GAP.search(before))))
    return found


def _logical_lines(text: str) -> list[str]:
    """Lines with their indented continuation lines folded in (wrapped replies)."""
    lines: list[str] = []
    for line in text.split("\n"):
        if lines and line[:1] in (" ", "\t") and line.strip():
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def _pick_in_line(line: str, classes: str) -> str | None:
    codes = [c for c in enhanced_codes(line) if c.code[0] in classes]
    if not codes:
        return None
    attached = [c for c in codes if c.attached]
    return attached[-1].code if attached else codes[0].code


def pick_enhanced(text: str | None, classes: str = "245") -> str | None:
    """The enhanced status code a diagnostic text is about, or None.

    The first (logical) line that carries a code decides: session transcripts are written in
    order and Exchange lists the final attempt first. Within that line, nesting puts the
    remote server's own reply last. ``classes`` restricts the candidates: a bounce is about
    its 4xx/5xx reply, not about the "250 2.1.5 Ok" lines of a transcript quoted around it.
    """
    if not text:
        return None
    if "\n" not in text:
        return _pick_in_line(text, classes)
    for line in _logical_lines(text):
        code = _pick_in_line(line, classes)
        if code:
            return code
    return None


def reply_codes(text: str | None) -> list[str]:
    if not text:
        return []
    return [m.group(1) for m in REPLY_RE.finditer(text)]


def pick_reply(text: str | None, classes: str = "45") -> str | None:
    """The first failure reply code of a diagnostic text (transcripts are chronological)."""
    codes = [c for c in reply_codes(text) if c[0] in classes]
    return codes[0] if codes else None


def parse_status_field(value: str | None) -> str | None:
    """The code of a DSN ``Status:`` field such as ``5.0.0 (permanent failure)``."""
    if not value:
        return None
    match = re.search(r"([245])\.(\d{1,3})\.(\d{1,3})", value)
    if not match:
        return None
    return f"{match.group(1)}.{int(match.group(2))}.{int(match.group(3))}"


def status_class(status: str | None) -> str | None:
    if not status or status[0] not in "245":
        return None
    return status[0]


def is_generic(status: str | None) -> bool:
    """True for codes that only give the class (x.0.0), which a diagnostic can refine."""
    return status is None or status.endswith(".0.0")


def best_status(
    status_field: str | None,
    diagnostic: str | None,
    extra_text: str | None = None,
    classes: str = "45",
) -> str | None:
    """Combine a DSN Status with the codes of its diagnostic (and the human-readable text).

    The diagnostic usually carries the remote server's own code, which is more specific than
    the relay's summary in ``Status:`` (Sendmail reports 4.4.7 for a "450 4.7.1" refusal).
    A code of a different class never overrides the Status: the MTA decided the outcome.
    """
    cls = status_class(status_field)
    if cls:
        classes = cls
    for text in (diagnostic, extra_text):
        code = pick_enhanced(text, classes)
        if code and (cls is None or status_class(code) == cls):
            if code != status_field and (is_generic(status_field) or text is diagnostic):
                return code
            if status_field is None:
                return code
    if status_field:
        return status_field
    for text in (diagnostic, extra_text):
        reply = pick_reply(text, classes)
        if reply:
            return f"{reply[0]}.0.0"
    return None
