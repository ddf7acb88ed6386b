"""Complaints: RFC 5965 feedback reports and the complaint formats that skip ARF.

Besides ``multipart/report; report-type=feedback-report`` we recognise:

* Hotmail-style complaints: a plain ``multipart/mixed`` forward of the complained-about
  message, whose enclosed copy carries ``X-HmXmrOriginalRecipient`` (or a subject such as
  "complaint about message from <ip>");
* unsubscribe requests sent by a mail client for a ``List-Unsubscribe: <mailto:...>`` link
  (Apple Mail marks them ``X-Apple-Unsubscribe: true``; others just say "unsubscribe").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dsn import parse_groups, strip_address_type
from .mime import Headers, ParsedMail, address_of

_FEEDBACK_LINE = re.compile(r"(?im)^[ \t>]*Feedback-Type[ \t]*:[ \t]*\S")
_COMPLAINT_SUBJECT = re.compile(
    r"(?i)\b(?:complaint about (?:a )?message|abuse report|spam complaint|fbl report"
    r"|feedback[- ]loop|junk mail report)\b"
)
_UNSUBSCRIBE_SUBJECT = re.compile(r"(?i)^\s*(?:unsubscribe|opt[- ]?out|remove(?: me)?)\s*$")
# Headers only complaint forwarders add to the enclosed copy of the reported message.
_COMPLAINT_MARK_HEADERS = ("x-hmxmroriginalrecipient",)


@dataclass
class Complaint:
    feedback_type: str | None
    user_agent: str | None = None
    arrival_date: str | None = None
    reporting_mta: str | None = None
    recipients: list[str] = field(default_factory=list)
    original_mail_from: str | None = None


def _fields(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for group in parse_groups(text, strict=False):
        for name, value in group:
            values.setdefault(name, []).append(value)
    return values


def _first(values: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        for value in values.get(name, []):
            if value.strip():
                return value.strip()
    return None


def parse_feedback_report(mail: ParsedMail) -> Complaint | None:
    """An RFC 5965 report from a message/feedback-report part (or its fields in text)."""
    texts = list(mail.arf_texts)
    if not texts:
        for part in mail.notification_parts:
            match = _FEEDBACK_LINE.search(part.text)
            if match:
                texts.append(part.text[match.start() :])
        if not texts:
            return None
    values: dict[str, list[str]] = {}
    for text in texts:
        for name, found in _fields(text).items():
            values.setdefault(name, []).extend(found)
    feedback_type = _first(values, "feedback-type")
    if feedback_type is None and not mail.arf_texts:
        return None
    recipients = []
    for name in ("original-rcpt-to", "removal-recipient"):
        for value in values.get(name, []):
            address = address_of(strip_address_type(value) or value)
            if address and address not in recipients:
                recipients.append(address)
    return Complaint(
        feedback_type=feedback_type.split()[0].lower() if feedback_type else None,
        user_agent=_first(values, "user-agent"),
        arrival_date=_first(values, "arrival-date", "received-date"),
        reporting_mta=strip_address_type(_first(values, "reporting-mta")),
        recipients=recipients,
        original_mail_from=address_of(_first(values, "original-mail-from")),
    )


def parse_informal_complaint(
    headers: Headers, subject: str, originals: list[Headers]
) -> Complaint | None:
    """Complaints without an ARF part: forwarded-message complaints and unsubscribe requests."""
    for original in originals:
        for name in _COMPLAINT_MARK_HEADERS:
            value = original.get(name)
            if value:
                address = address_of(value)
                return Complaint("abuse", recipients=[address] if address else [])
    if originals and _COMPLAINT_SUBJECT.search(subject):
        return Complaint("abuse")
    apple = (headers.get("x-apple-unsubscribe") or "").strip().lower()
    if apple in ("true", "yes", "1") or _UNSUBSCRIBE_SUBJECT.match(subject):
        sender = address_of(headers.get("from"))
        return Complaint("opt-out", recipients=[sender] if sender else [])
    return None
