"""The mailbox simulator's receiving side: what each scenario answers, and the mail it sends back.

Recognising simulator addresses is `core.acceptance.simulator`'s job; this module takes the
scenario it found.
The feedback builders produce the mail a real receiving server would send to the envelope sender
(the VERP address), so the simulated flow goes through the same feedback parser as real mail.
Everything is a function of its arguments: Message-IDs and MIME boundaries are derived from the
inputs, never from a clock or a random generator.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email import policy
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from enum import StrEnum

import msgspec

from sendtrail.core.acceptance.simulator import SimulatorScenario
from sendtrail.core.delivery.classification import BounceSubType, BounceType
from sendtrail.core.delivery.outcomes import AttemptOutcome, OutcomeKind, Phase
from sendtrail.core.delivery.suppression import suppressed_bounce


class FollowUp(StrEnum):
    """Feedback the simulated recipient sends after accepting the message."""

    AUTO_REPLY = "auto_reply"  # RFC 3834, see `auto_reply`
    COMPLAINT = "complaint"  # RFC 5965, see `complaint_report`


class SimulatedResult(msgspec.Struct, frozen=True, kw_only=True):
    outcome: AttemptOutcome
    follow_up: FollowUp | None = None
    attempted: bool = True  # False: SES answers without contacting any server


SIMULATOR_SMTP_RESPONSE = "250 2.6.0 Message received"
SIMULATOR_USER_AGENT = "Amazon SES Mailbox Simulator"
SIMULATOR_BOUNCE_STATUS = "5.1.1"
SIMULATOR_BOUNCE_DIAGNOSTIC = "smtp; 550 5.1.1 user unknown"

_DELIVERED = AttemptOutcome(
    kind=OutcomeKind.DELIVERED, phase=Phase.DATA_END, smtp_response=SIMULATOR_SMTP_RESPONSE
)
# SES reports the simulator's 5.1.1 as Permanent/General (observed); spelt out here so the
# simulator keeps SES's answer whatever the general table says.
_BOUNCED = AttemptOutcome(
    kind=OutcomeKind.HARD,
    phase=Phase.RCPT,
    status=SIMULATOR_BOUNCE_STATUS,
    diagnostic_code=SIMULATOR_BOUNCE_DIAGNOSTIC,
    bounce_type=BounceType.PERMANENT,
    bounce_subtype=BounceSubType.GENERAL,
)
_SUPPRESSED = suppressed_bounce(BounceSubType.SUPPRESSED)

_RESULTS: dict[SimulatorScenario, SimulatedResult] = {
    SimulatorScenario.SUCCESS: SimulatedResult(outcome=_DELIVERED),
    SimulatorScenario.BOUNCE: SimulatedResult(outcome=_BOUNCED),
    SimulatorScenario.OOTO: SimulatedResult(outcome=_DELIVERED, follow_up=FollowUp.AUTO_REPLY),
    SimulatorScenario.COMPLAINT: SimulatedResult(outcome=_DELIVERED, follow_up=FollowUp.COMPLAINT),
    SimulatorScenario.SUPPRESSION_LIST: SimulatedResult(outcome=_SUPPRESSED, attempted=False),
}


def simulate(scenario: SimulatorScenario | str) -> SimulatedResult:
    """What happens to a message sent to the simulator address for `scenario`."""
    return _RESULTS[SimulatorScenario(scenario)]


# --- feedback mail ------------------------------------------------------------------------------


def _angle(message_id: str) -> str:
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _report(
    report_type: str,
    *,
    kind: str,
    human_text: str,
    machine_part: Message,
    original_message_id: str,
    recipient: str,
    envelope_sender: str,
    reporting_host: str,
    timestamp: datetime,
    from_address: str,
    subject: str,
) -> bytes:
    """An RFC 6522 multipart/report: human text, machine-readable part, original headers."""
    key = _digest(kind, original_message_id, recipient, envelope_sender, timestamp.isoformat())
    report = MIMEMultipart("report", boundary=f"=_{key[:32]}", report_type=report_type)
    report["From"] = from_address
    report["To"] = envelope_sender
    report["Subject"] = subject
    report["Date"] = format_datetime(timestamp)
    report["Message-ID"] = f"<{kind}-{key[32:56]}@{reporting_host}>"
    report["Auto-Submitted"] = "auto-replied"
    original_headers = (
        f"Return-Path: <{envelope_sender}>\n"
        f"To: {recipient}\n"
        f"Message-ID: {_angle(original_message_id)}\n"
    )
    report.attach(_text_part(human_text, "plain"))
    report.attach(machine_part)
    report.attach(_text_part(original_headers, "rfc822-headers"))
    return report.as_bytes(policy=policy.SMTP)


def _text_part(text: str, subtype: str) -> MIMEText:
    part = MIMEText(text, subtype, "us-ascii")
    del part["MIME-Version"]  # belongs on the top-level message only
    return part


def _fields(*pairs: tuple[str, str]) -> Message:
    block = Message()
    for name, value in pairs:
        block[name] = value
    return block


def bounce_dsn(
    *,
    original_message_id: str,
    recipient: str,
    envelope_sender: str,
    reporting_host: str,
    timestamp: datetime,
    status: str = SIMULATOR_BOUNCE_STATUS,
    diagnostic_code: str = SIMULATOR_BOUNCE_DIAGNOSTIC,
) -> bytes:
    """An RFC 3464 DSN reporting that `recipient` failed, laid out like SES's simulator DSN."""
    machine = Message()
    machine["Content-Type"] = "message/delivery-status"
    # One block of per-message fields, then one per recipient (RFC 3464 §2.1).
    machine.set_payload(
        [
            _fields(("Reporting-MTA", f"dsn; {reporting_host}")),
            _fields(
                ("Action", "failed"),
                ("Final-Recipient", f"rfc822; {recipient}"),
                ("Diagnostic-Code", diagnostic_code),
                ("Status", status),
            ),
        ]
    )
    return _report(
        "delivery-status",
        kind="dsn",
        human_text=(
            "An error occurred while trying to deliver the mail to the following recipients:\n"
            f"{recipient}\n"
        ),
        machine_part=machine,
        original_message_id=original_message_id,
        recipient=recipient,
        envelope_sender=envelope_sender,
        reporting_host=reporting_host,
        timestamp=timestamp,
        from_address=f"MAILER-DAEMON@{reporting_host}",
        subject="Delivery Status Notification (Failure)",
    )


def complaint_report(
    *,
    original_message_id: str,
    recipient: str,
    envelope_sender: str,
    reporting_host: str,
    timestamp: datetime,
    feedback_type: str = "abuse",
    user_agent: str = SIMULATOR_USER_AGENT,
) -> bytes:
    """An RFC 5965 ARF report: `recipient` marked the message as spam."""
    machine = Message()
    machine["Content-Type"] = "message/feedback-report"
    # message/* parts are written as an embedded header block: the report fields.
    machine.set_payload(
        [
            _fields(
                ("Feedback-Type", feedback_type),
                ("User-Agent", user_agent),
                ("Version", "1"),
                ("Original-Mail-From", f"<{envelope_sender}>"),
                ("Original-Rcpt-To", f"<{recipient}>"),
                ("Arrival-Date", format_datetime(timestamp)),
                ("Reporting-MTA", f"dns; {reporting_host}"),
            )
        ]
    )
    return _report(
        "feedback-report",
        kind="arf",
        human_text=(
            "This is an email abuse report for an email message received from "
            f"{envelope_sender}.\nThe recipient {recipient} marked it as spam.\n"
        ),
        machine_part=machine,
        original_message_id=original_message_id,
        recipient=recipient,
        envelope_sender=envelope_sender,
        reporting_host=reporting_host,
        timestamp=timestamp,
        from_address=f"complaints@{reporting_host}",
        subject="Complaint about message",
    )


def auto_reply(
    *,
    original_message_id: str,
    recipient: str,
    envelope_sender: str,
    reporting_host: str,
    timestamp: datetime,
) -> bytes:
    """An RFC 3834 out-of-office reply from `recipient` to the envelope sender."""
    key = _digest("ooto", original_message_id, recipient, envelope_sender, timestamp.isoformat())
    reply = MIMEText(
        "I am out of the office and will have limited access to email. "
        "I will respond to your message when I return.\n",
        "plain",
        "us-ascii",
    )
    reply["From"] = recipient
    reply["To"] = envelope_sender
    reply["Subject"] = "Auto: Out of the office"  # RFC 3834 §3.1.5 suggests the "Auto:" prefix
    reply["Date"] = format_datetime(timestamp)
    reply["Message-ID"] = f"<ooto-{key[:32]}@{reporting_host}>"
    reply["In-Reply-To"] = _angle(original_message_id)
    reply["References"] = _angle(original_message_id)
    reply["Auto-Submitted"] = "auto-replied"
    return reply.as_bytes(policy=policy.SMTP)
