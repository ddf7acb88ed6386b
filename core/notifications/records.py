"""SES's notification JSON, field for field (reference sections 3 and 4).

Two shapes share the ``mail`` object:
- identity notifications (``notificationType``: Bounce, Complaint, Delivery), whose ``mail``
  has ``sourceIp`` and ``callerIdentity`` and carries ``headersTruncated``, ``headers`` and
  ``commonHeaders`` only when the identity enabled headers for that type (the simulator
  complaint of 3.6, without headers, has no ``commonHeaders`` either);
- event publishing records (``eventType``), whose ``mail`` leaves the caller and the IP to the
  ``ses:*`` tags and always has ``headersTruncated`` (and headers when the message has been
  read: not for Rendering Failure and DeliveryDelay, as the DG examples show).

Optional fields are left out when sendtrail does not know them (SES omits ``reportingMTA``
without a DSN, ``remoteMtaIp`` without a connection); ``complaintSubType`` is always
written in event publishing, ``null`` included, as SES does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from sendtrail.core import events as ev

from .headers import MailHeaders
from .identity import sender_address, source_arn
from .timestamps import ses_date_text, ses_timestamp

DEFAULT_ACCOUNT_ID: Final = "000000000000"

Record = dict[str, Any]
BounceLike = ev.BounceEvent | ev.RecipientSuppressed | ev.AutoReplyReported


class Publisher(msgspec.Struct, frozen=True):
    """Where the account lives: the region and the 12-digit account id in ARNs."""

    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID


def encode_record(record: Record) -> bytes:
    """Compact JSON, keys in the order built (SES's)."""
    return msgspec.json.encode(record)


# --- mail -------------------------------------------------------------------------------


def mail_object(
    request: ev.SendRequested,
    *,
    publisher: Publisher,
    identity_name: str,
    headers: MailHeaders | None,
    publishing: bool,
) -> Record:
    mail: Record = {
        "timestamp": ses_timestamp(request.at),
        "source": request.source,
        "sourceArn": source_arn(publisher.region, publisher.account_id, identity_name),
    }
    if not publishing and request.source_ip:
        mail["sourceIp"] = request.source_ip
    mail["sendingAccountId"] = publisher.account_id
    if not publishing and request.caller:
        mail["callerIdentity"] = request.caller
    mail["messageId"] = request.message_id
    mail["destination"] = list(request.destinations)
    if headers is not None:
        mail["headersTruncated"] = headers.truncated
        mail["headers"] = headers.headers_json()
        mail["commonHeaders"] = headers.common
    elif publishing:
        mail["headersTruncated"] = False
    if publishing:
        mail["tags"] = tags_object(request)
    return mail


def tags_object(request: ev.SendRequested) -> dict[str, list[str]]:
    """SES's automatic ``ses:*`` tags, then the message's own."""
    tags: dict[str, list[str]] = {}
    automatic = (
        ("ses:configuration-set", request.configuration_set),
        ("ses:source-ip", request.source_ip),
        ("ses:from-domain", sender_address(request.source).rpartition("@")[2].lower() or None),
        ("ses:caller-identity", request.caller),
        ("ses:operation", request.operation),
    )
    for name, value in automatic:
        if value:
            tags[name] = [value]
    for tag in request.tags:
        tags.setdefault(tag.name, []).append(tag.value)
    return tags


# --- the outcome objects ----------------------------------------------------------------


def bounce_object(event: BounceLike, *, identity: bool) -> Record:
    """``remoteMtaIp`` is an identity-notification field (reference 4)."""
    if isinstance(event, ev.AutoReplyReported):
        # An out-of-office reply, as SES reports it: a general soft bounce naming only
        # the address, without a DSN (reference 5, ooto@).
        return {
            "bounceType": "Transient",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": event.recipient}],
            "timestamp": ses_timestamp(event.at),
            "feedbackId": event.feedback_id,
        }
    recipient: Record = {"emailAddress": event.recipient}
    for key, value in (
        ("action", "failed" if isinstance(event, ev.RecipientSuppressed) else event.action),
        ("status", event.status),
        ("diagnosticCode", event.diagnostic_code),
    ):
        if value is not None:
            recipient[key] = value
    bounce: Record = {
        "bounceType": event.bounce_type,
        "bounceSubType": event.bounce_subtype,
        "bouncedRecipients": [recipient],
        "timestamp": ses_timestamp(event.at),
        "feedbackId": event.feedback_id,
    }
    remote_ip = None if isinstance(event, ev.RecipientSuppressed) else event.remote_mta_ip
    if identity and remote_ip:
        bounce["remoteMtaIp"] = remote_ip
    if event.reporting_mta:
        bounce["reportingMTA"] = event.reporting_mta
    return bounce


def complaint_object(event: ev.ComplaintReported, *, publishing: bool) -> Record:
    complaint: Record = {
        "complainedRecipients": [{"emailAddress": event.recipient}],
        "timestamp": ses_timestamp(event.at),
        "feedbackId": event.feedback_id,
    }
    if publishing or event.complaint_subtype is not None:
        complaint["complaintSubType"] = event.complaint_subtype
    # Present only when the ISP attached a feedback report (reference 3.4).
    if event.user_agent is not None:
        complaint["userAgent"] = event.user_agent
    if event.feedback_type is not None:
        complaint["complaintFeedbackType"] = event.feedback_type
    if event.arrival_date is not None:
        complaint["arrivalDate"] = ses_date_text(event.arrival_date)
    return complaint


def delivery_object(event: ev.RecipientDelivered, request: ev.SendRequested) -> Record:
    delivery: Record = {
        "timestamp": ses_timestamp(event.at),
        "processingTimeMillis": _processing_millis(event, request.at),
        "recipients": [event.recipient],
        "smtpResponse": event.smtp_response,
    }
    if event.reporting_mta:
        delivery["reportingMTA"] = event.reporting_mta
    if event.remote_mta_ip:
        delivery["remoteMtaIp"] = event.remote_mta_ip
    return delivery


def delivery_delay_object(event: ev.RecipientDeferred) -> Record:
    delay: Record = {
        "timestamp": ses_timestamp(event.at),
        "delayType": event.delay_type,
        "expirationTime": ses_timestamp(event.expires_at),
        "delayedRecipients": [
            {
                "emailAddress": event.recipient,
                "status": event.status,
                "diagnosticCode": event.diagnostic_code,
            }
        ],
    }
    if event.reporting_mta:
        delay["reportingMTA"] = event.reporting_mta
    return delay


def _processing_millis(event: ev.RecipientDelivered, requested_at: datetime) -> int:
    """The delivering attempt's own measure, else the time since the request (SES's meaning:
    from accepting the message to the remote server's acceptance)."""
    if event.processing_ms is not None:
        return event.processing_ms
    return max(0, round((event.at - requested_at).total_seconds() * 1000))


# --- whole records ----------------------------------------------------------------------


def identity_notification(
    notification_type: str,
    event: ev.Event,
    request: ev.SendRequested,
    *,
    publisher: Publisher,
    identity_name: str,
    headers: MailHeaders | None,
) -> Record:
    """``{"notificationType", <bounce|complaint|delivery>, "mail"}`` (reference 3)."""
    mail = mail_object(
        request,
        publisher=publisher,
        identity_name=identity_name,
        headers=headers,
        publishing=False,
    )
    if isinstance(event, ev.RecipientDelivered):
        return {
            "notificationType": notification_type,
            "mail": mail,
            "delivery": delivery_object(event, request),
        }
    if isinstance(event, ev.ComplaintReported):
        body: tuple[str, Record] = ("complaint", complaint_object(event, publishing=False))
    elif isinstance(event, BounceLike):
        body = ("bounce", bounce_object(event, identity=True))
    else:
        raise TypeError(f"no identity notification for {type(event).__name__}")
    return {"notificationType": notification_type, body[0]: body[1], "mail": mail}


def event_record(
    event_type: str,
    event: ev.Event,
    request: ev.SendRequested,
    *,
    publisher: Publisher,
    identity_name: str,
    headers: MailHeaders | None,
) -> Record:
    """``{"eventType", "mail", <object>}`` (reference 4)."""
    mail = mail_object(
        request, publisher=publisher, identity_name=identity_name, headers=headers, publishing=True
    )
    key, body = _published_object(event, request)
    return {"eventType": event_type, "mail": mail, key: body}


def _published_object(event: ev.Event, request: ev.SendRequested) -> tuple[str, Record]:
    match event:
        case ev.SendAccepted():
            return "send", {}
        case ev.ContentRejected():
            return "reject", {"reason": event.reason}
        case ev.RenderingFailed():
            return "failure", {
                "errorMessage": event.error_message,
                "templateName": event.template_name,
            }
        case ev.RecipientDelivered():
            return "delivery", delivery_object(event, request)
        case ev.RecipientDeferred():
            return "deliveryDelay", delivery_delay_object(event)
        case ev.ComplaintReported():
            return "complaint", complaint_object(event, publishing=True)
        case ev.BounceEvent() | ev.RecipientSuppressed():
            return "bounce", bounce_object(event, identity=False)
    raise TypeError(f"no published event for {type(event).__name__}")
