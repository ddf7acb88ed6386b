"""Amazon SES event notifications (bounce, complaint, delivery) delivered as JSON by mail.

SNS wraps the SES event in an envelope whose ``Message`` is the event as a JSON string; an
e-mail subscription may also deliver the raw event followed by an unsubscribe footer. Folded
mail lines can leave raw newlines inside JSON strings, so parsing is non-strict.
"""

from __future__ import annotations

import json
from typing import Any

from .dsn import normalize_action
from .model import (
    KIND_BOUNCE,
    KIND_COMPLAINT,
    KIND_DELIVERED,
    FeedbackReport,
    RecipientVerdict,
)
from .status import parse_status_field, pick_enhanced, status_class


def _load(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])
    except ValueError:
        return None
    return value


def find_event(text: str) -> dict[str, Any] | None:
    """The SES event inside a mail body, unwrapping an SNS envelope if present."""
    if "notificationType" not in text and "eventType" not in text:
        return None
    value = _load(text)
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("Message"), str):
        inner = _load(value["Message"])
        if isinstance(inner, dict):
            value = inner
    if value.get("notificationType") or value.get("eventType"):
        return value
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mail_fields(mail: dict[str, Any]) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    message_id = None
    references: tuple[str, ...] = ()
    for header in mail.get("headers") or []:
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if name == "message-id":
            message_id = _str(header.get("value"))
        elif name == "references":
            references = tuple(str(header.get("value", "")).split())
    common = mail.get("commonHeaders") or {}
    if message_id is None and isinstance(common, dict):
        message_id = _str(common.get("messageId"))
    if message_id is None:
        message_id = _str(mail.get("messageId"))
    destination = [d for d in mail.get("destination") or [] if isinstance(d, str)]
    return message_id, references, tuple(destination)


def report_from_event(event: dict[str, Any], subject: str | None) -> FeedbackReport | None:
    kind_name = str(event.get("notificationType") or event.get("eventType") or "").lower()
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    message_id, references, destination = _mail_fields(mail)
    common = {
        "original_message_id": message_id,
        "original_references": references,
        "original_recipients": destination,
        "subject": subject,
    }
    if kind_name == "bounce":
        bounce = event.get("bounce") if isinstance(event.get("bounce"), dict) else {}
        reporting = _str(bounce.get("reportingMTA"))
        if reporting and ";" in reporting:
            reporting = reporting.split(";", 1)[1].strip()
        verdicts = []
        for item in bounce.get("bouncedRecipients") or []:
            if not isinstance(item, dict):
                continue
            diagnostic = _str(item.get("diagnosticCode"))
            status = parse_status_field(_str(item.get("status"))) or pick_enhanced(diagnostic)
            verdicts.append(
                RecipientVerdict(
                    recipient=_str(item.get("emailAddress")),
                    action=normalize_action(_str(item.get("action"))) or "failed",
                    status=status,
                    bounce_type=_str(bounce.get("bounceType")),
                    bounce_subtype=_str(bounce.get("bounceSubType")),
                    diagnostic_code=diagnostic,
                )
            )
        return FeedbackReport(
            kind=KIND_BOUNCE,
            recipients=tuple(verdicts),
            reporting_mta=reporting,
            reporting_domain=reporting.lower() if reporting else None,
            **common,
        )
    if kind_name == "complaint":
        complaint = event.get("complaint") if isinstance(event.get("complaint"), dict) else {}
        verdicts = [
            RecipientVerdict(recipient=_str(item.get("emailAddress")))
            for item in complaint.get("complainedRecipients") or []
            if isinstance(item, dict)
        ]
        feedback_type = _str(complaint.get("complaintFeedbackType"))
        return FeedbackReport(
            kind=KIND_COMPLAINT,
            recipients=tuple(verdicts),
            feedback_type=feedback_type.lower() if feedback_type else None,
            user_agent=_str(complaint.get("userAgent")),
            arrival_date=_str(complaint.get("arrivalDate")),
            **common,
        )
    if kind_name == "delivery":
        delivery = event.get("delivery") if isinstance(event.get("delivery"), dict) else {}
        response = _str(delivery.get("smtpResponse"))
        status = pick_enhanced(response)
        if status_class(status) != "2":
            status = None
        reporting = _str(delivery.get("reportingMTA"))
        verdicts = [
            RecipientVerdict(
                recipient=address,
                action="delivered",
                status=status,
                diagnostic_code=response,
                remote_mta=_str(delivery.get("remoteMtaIp")),
            )
            for address in delivery.get("recipients") or []
            if isinstance(address, str)
        ]
        return FeedbackReport(
            kind=KIND_DELIVERED,
            recipients=tuple(verdicts),
            reporting_mta=reporting,
            reporting_domain=reporting.lower() if reporting else None,
            **common,
        )
    return None
