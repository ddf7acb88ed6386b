"""RFC 3464 delivery status notifications: the machine-readable ``field: value`` groups.

The same reader serves a proper ``message/delivery-status`` part and DSN fields that reached
us inside plain text (a report whose multipart structure broke, or a forwarded bounce quoted
with ``>``). Groups are separated by blank lines, but some MTAs run recipient groups together,
so a field that repeats inside a group also starts a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .status import parse_status_field

PER_MESSAGE_FIELDS = frozenset(
    {
        "reporting-mta",
        "original-envelope-id",
        "dsn-gateway",
        "received-from-mta",
        "arrival-date",
    }
)
PER_RECIPIENT_FIELDS = frozenset(
    {
        "original-recipient",
        "final-recipient",
        "action",
        "status",
        "remote-mta",
        "diagnostic-code",
        "last-attempt-date",
        "final-log-id",
        "will-retry-until",
    }
)
KNOWN_FIELDS = PER_MESSAGE_FIELDS | PER_RECIPIENT_FIELDS

_FIELD_LINE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]?(?P<value>.*)$")
_QUOTE_PREFIX = re.compile(r"^(?:[ \t]?>)+[ \t]?")
_ADDRESS_TYPE = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*")

_PLAIN_ADDRESS = re.compile(r"^(?:\"[^\"]+\"|[^\s@<>()|/\\]+)@[^\s@<>()|/\\]+$")
_EMBEDDED_ADDRESS = re.compile(r"(?<![\w/.\-+=])[\w.+=\-]+@[\w\-]+(?:\.[\w\-]+)+")

ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


@dataclass
class DsnRecipient:
    final_recipient: str | None
    original_recipient: str | None
    action: str | None
    status: str | None
    diagnostic_code: str | None
    remote_mta: str | None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str | None:
        """The address the sender used: Original-Recipient survives aliasing and forwarding,
        which is what correlation with our own sends needs; Final-Recipient is the fallback.
        Exim reports pipes and files ("|/bin/prog user@x", "/var/mail/x") as the final
        recipient, so an embedded address is preferred over such a value."""
        for value in (self.original_recipient, self.final_recipient):
            if value and _PLAIN_ADDRESS.match(value):
                return value
        for value in (self.final_recipient, self.original_recipient):
            found = _EMBEDDED_ADDRESS.search(value or "")
            if found:
                return found.group(0)
        return self.final_recipient or self.original_recipient


@dataclass
class DsnReport:
    reporting_mta: str | None
    arrival_date: str | None
    recipients: list[DsnRecipient]


def _unfold(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def strip_address_type(value: str | None) -> str | None:
    """``rfc822; <a@b>`` -> ``a@b``; ``dns; mx.example.com`` -> ``mx.example.com``."""
    if not value:
        return None
    text = _ADDRESS_TYPE.sub("", value.strip(), count=1).strip()
    if text.startswith("<") and ">" in text:
        text = text[1 : text.index(">")]
    text = text.strip().strip("<>").strip()
    return text or None


def normalize_action(value: str | None) -> str | None:
    """Map the Action field onto RFC 3464's values (some MTAs write ``deliverable``)."""
    if not value:
        return None
    word = value.strip().split()[0].strip(".;,").lower() if value.strip() else ""
    if word in ACTIONS:
        return word
    if word.startswith("deliver"):
        return "delivered"
    if word.startswith("fail") or word in ("undeliverable", "bounced", "rejected"):
        return "failed"
    if word.startswith("delay") or word in ("deferred", "retry"):
        return "delayed"
    if word.startswith("relay"):
        return "relayed"
    if word.startswith("expand"):
        return "expanded"
    return word or None


def parse_groups(text: str, strict: bool) -> list[list[tuple[str, str]]]:
    """Split field text into groups of (lower-cased name, unfolded value).

    ``strict`` is for text found in prose: then only known DSN fields (and ``X-`` extension
    fields) are read, and anything else ends the current group.
    """
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    pending_name: str | None = None
    pending_value: list[str] = []

    def flush_field() -> None:
        nonlocal pending_name, pending_value
        if pending_name is not None:
            current.append((pending_name, _unfold(" ".join(pending_value))))
        pending_name, pending_value = None, []

    def flush_group() -> None:
        nonlocal current
        flush_field()
        if current:
            groups.append(current)
        current = []

    for raw_line in text.split("\n"):
        line = _QUOTE_PREFIX.sub("", raw_line.rstrip("\r"))
        if not line.strip():
            flush_group()
            continue
        if line[0] in " \t" and pending_name is not None:
            pending_value.append(line.strip())
            continue
        match = _FIELD_LINE.match(line)
        name = match.group("name").lower() if match else None
        accepted = name is not None and (
            not strict or name in KNOWN_FIELDS or name.startswith("x-")
        )
        if not accepted:
            flush_group()
            continue
        flush_field()
        assert match is not None and name is not None
        if any(existing == name for existing, _ in current) and name in KNOWN_FIELDS:
            flush_group()
        pending_name, pending_value = name, [match.group("value")]
    flush_group()
    return groups


def _recipient_of(group: list[tuple[str, str]]) -> DsnRecipient | None:
    values: dict[str, str] = {}
    for name, value in group:
        values.setdefault(name, value)
    final = strip_address_type(values.get("final-recipient"))
    original = strip_address_type(values.get("original-recipient"))
    if final is None and original is None:
        return None
    return DsnRecipient(
        final_recipient=final,
        original_recipient=original,
        action=normalize_action(values.get("action")),
        status=parse_status_field(values.get("status")),
        diagnostic_code=values.get("diagnostic-code") or None,
        remote_mta=strip_address_type(values.get("remote-mta")),
        fields=values,
    )


def parse_dsn(text: str, strict: bool = False) -> DsnReport | None:
    """Read DSN groups from ``text``; None when no recipient group is present."""
    reporting_mta = arrival_date = None
    recipients: list[DsnRecipient] = []
    for group in parse_groups(text, strict):
        names = {name for name, _ in group}
        if strict and not (names & PER_RECIPIENT_FIELDS) and not (names & PER_MESSAGE_FIELDS):
            continue
        for name, value in group:
            if name == "reporting-mta" and reporting_mta is None:
                reporting_mta = strip_address_type(value)
            elif name in ("arrival-date", "received-date") and arrival_date is None:
                arrival_date = value or None
        recipient = _recipient_of(group)
        if recipient is None:
            continue
        if strict and recipient.action is None and recipient.status is None:
            # "Final-Recipient:" alone in prose is too weak to call it a DSN.
            continue
        recipients.append(recipient)
    if not recipients:
        return None
    return DsnReport(reporting_mta, arrival_date, recipients)
