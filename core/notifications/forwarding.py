"""Feedback forwarding by email: the bounce or complaint as a mail to the feedback address.

SES forwards feedback with its own From (reference 9: "SES rewrites the From header"):
bounces come from ``MAILER-DAEMON@...`` as a delivery status notification, complaints from
``complaints@...`` (observed: ``complaints@email-abuse.amazonses.com``, subject ``complaint
about message from <ip>``) as an abuse report. sendtrail builds the same standard reports:

- a bounce: ``multipart/report; report-type=delivery-status`` (RFC 3464), a human part, the
  ``message/delivery-status`` part, and the original headers (``text/rfc822-headers``);
- a complaint: ``multipart/report; report-type=feedback-report`` (ARF, RFC 5965);
- an auto-reply: a short notice that the recipient answered automatically.

The notifier sends them with an empty envelope sender (``MAIL FROM:<>``) so that they can
never bounce back into a loop. Everything here is pure: the date and ids come in.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .identity import sender_address
from .records import Record

CRLF = "\r\n"


def forwarded_feedback(
    record: Record,
    *,
    event_type: str,
    to: str,
    from_domain: str,
    notification_id: str,
    date: datetime,
) -> bytes:
    """The forwarded mail for an identity notification ``record`` (Bounce or Complaint).

    ``event_type`` is the log event it came from: an ``AutoReplyReported`` bounce is a notice.
    """
    mail: dict[str, Any] = record["mail"]
    message_id = f"<{notification_id}@{from_domain}>"
    if "complaint" in record:
        return _complaint(record["complaint"], mail, to, from_domain, message_id, date)
    if event_type == "AutoReplyReported":
        return _auto_reply(record["bounce"], mail, to, from_domain, message_id, date)
    return _bounce(record["bounce"], mail, to, from_domain, message_id, date)


def _bounce(
    bounce: Record, mail: Record, to: str, domain: str, message_id: str, date: datetime
) -> bytes:
    recipients = bounce["bouncedRecipients"]
    default_status = "5.0.0" if bounce["bounceType"] == "Permanent" else "4.0.0"
    per_message = [
        f"Reporting-MTA: {bounce.get('reportingMTA') or f'dns; {domain}'}",
        f"Original-Envelope-Id: {mail['messageId']}",
        f"Arrival-Date: {_rfc5322(mail['timestamp'])}",
    ]
    per_recipient: list[str] = []
    for recipient in recipients:
        per_recipient.append("")
        per_recipient.append(f"Final-Recipient: rfc822; {recipient['emailAddress']}")
        per_recipient.append(f"Action: {recipient.get('action') or 'failed'}")
        per_recipient.append(f"Status: {recipient.get('status') or default_status}")
        if bounce.get("remoteMtaIp"):
            per_recipient.append(f"Remote-MTA: dns; {bounce['remoteMtaIp']}")
        if recipient.get("diagnosticCode"):
            per_recipient.append(f"Diagnostic-Code: {recipient['diagnosticCode']}")
        per_recipient.append(f"Last-Attempt-Date: {_rfc5322(bounce['timestamp'])}")
    addresses = CRLF.join(r["emailAddress"] for r in recipients)
    human = (
        "An error occurred while trying to deliver the mail to the following recipients:"
        f"{CRLF}{addresses}{CRLF}"
    )
    parts = [
        _part("text/plain; charset=us-ascii", human),
        _part("message/delivery-status", CRLF.join(per_message + per_recipient) + CRLF),
        *_original_headers(mail),
    ]
    return _report(
        "delivery-status",
        parts,
        from_address=f"MAILER-DAEMON@{domain}",
        to=to,
        subject="Delivery Status Notification (Failure)",
        message_id=message_id,
        date=date,
    )


def _complaint(
    complaint: Record, mail: Record, to: str, domain: str, message_id: str, date: datetime
) -> bytes:
    source_ip = mail.get("sourceIp")
    arrival = complaint.get("arrivalDate") or complaint["timestamp"]
    about = source_ip or sender_address(mail["source"]).rpartition("@")[2]
    human = (
        f"This is an email abuse report for an email message received from "
        f"{f'IP {source_ip}' if source_ip else about} on {_rfc5322(arrival)}.{CRLF}"
        f"For more information about this format please see "
        f"http://tools.ietf.org/html/rfc5965.{CRLF}"
    )
    report = [
        f"Feedback-Type: {complaint.get('complaintFeedbackType') or 'abuse'}",
        f"User-Agent: {complaint.get('userAgent') or 'sendtrail'}",
        "Version: 1",
        f"Original-Mail-From: <{sender_address(mail['source'])}>",
        *(f"Original-Rcpt-To: <{r['emailAddress']}>" for r in complaint["complainedRecipients"]),
        f"Arrival-Date: {_rfc5322(arrival)}",
        *([f"Source-IP: {source_ip}"] if source_ip else []),
    ]
    parts = [
        _part("text/plain; charset=us-ascii", human),
        _part("message/feedback-report", CRLF.join(report) + CRLF),
        *_original_headers(mail),
    ]
    return _report(
        "feedback-report",
        parts,
        from_address=f"complaints@{domain}",
        to=to,
        subject=f"complaint about message from {about}",
        message_id=message_id,
        date=date,
    )


def _auto_reply(
    bounce: Record, mail: Record, to: str, domain: str, message_id: str, date: datetime
) -> bytes:
    recipient = bounce["bouncedRecipients"][0]["emailAddress"]
    body = (
        f"{recipient} answered message {mail['messageId']} with an automatic reply (for "
        f"example an out-of-office notice).{CRLF}The message was delivered.{CRLF}"
    )
    headers = _top_headers(
        from_address=f"MAILER-DAEMON@{domain}",
        to=to,
        subject=f"Automatic reply from {recipient}",
        message_id=message_id,
        date=date,
    )
    headers += ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"]
    return (CRLF.join(headers) + CRLF + CRLF + body).encode("utf-8")


# --- building blocks --------------------------------------------------------------------


def _report(
    report_type: str,
    parts: Iterable[str],
    *,
    from_address: str,
    to: str,
    subject: str,
    message_id: str,
    date: datetime,
) -> bytes:
    # A boundary from the id: the same notification always gives the same bytes.
    boundary = f"=_sendtrail_{message_id.strip('<>').partition('@')[0]}"
    headers = _top_headers(
        from_address=from_address, to=to, subject=subject, message_id=message_id, date=date
    )
    headers.append(
        f'Content-Type: multipart/report; report-type={report_type};{CRLF} boundary="{boundary}"'
    )
    body = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts) + f"--{boundary}--{CRLF}"
    return (CRLF.join(headers) + CRLF + CRLF + body).encode("utf-8")


def _top_headers(
    *, from_address: str, to: str, subject: str, message_id: str, date: datetime
) -> list[str]:
    return [
        f"From: {from_address}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {email.utils.format_datetime(date)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        # RFC 3834: a machine wrote this; auto-responders must not answer it.
        "Auto-Submitted: auto-replied",
    ]


def _part(content_type: str, body: str) -> str:
    encoding = "7bit" if body.isascii() else "8bit"
    headers = f"Content-Type: {content_type}{CRLF}Content-Transfer-Encoding: {encoding}{CRLF}"
    return f"{headers}{CRLF}{body}"


def _original_headers(mail: Record) -> list[str]:
    headers = mail.get("headers")
    if not headers:
        return []
    block = "".join(f"{header['name']}: {header['value']}{CRLF}" for header in headers)
    charset = "" if block.isascii() else "; charset=utf-8"
    return [_part(f"text/rfc822-headers{charset}", block)]


def _rfc5322(ses_time: str) -> str:
    try:
        when = datetime.fromisoformat(ses_time.replace("Z", "+00:00"))
    except ValueError:
        return ses_time
    return email.utils.format_datetime(when)
