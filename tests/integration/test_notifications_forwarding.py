"""Feedback forwarded by email through a real SMTP relay on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import time
from pathlib import Path

from support.notifications_smtp import SmtpRelay
from support.notifications_world import (
    complain,
    deliver,
    hard_bounce,
    open_engine,
    running_notifier,
    save_identity,
    send,
    settings_for,
)

from sendtrail.adapters.notifications_cli import list_notifications
from sendtrail.core import commands as cmd


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_bounces_complaints_and_auto_replies_are_mailed_with_an_empty_envelope_sender(
    tmp_path: Path,
) -> None:
    with SmtpRelay() as relay:
        engine = open_engine(tmp_path)
        save_identity(engine, engine.clock.now())  # no topics: forwarding, SES's default
        settings = settings_for({}, relay=relay.address)
        try:
            bounced = send(engine, "m-bounce", configuration_set=None)
            hard_bounce(engine, bounced)
            complained = send(engine, "m-complaint", configuration_set=None)
            deliver(engine, complained)  # never forwarded
            complain(engine, complained)
            replied = send(
                engine, "m-ooto", configuration_set=None, feedback_address="ooto@example.com"
            )
            deliver(engine, replied)
            engine.execute(
                cmd.ReportAutoReply(
                    message_id=replied, recipient="recipient@example.com", feedback_id="f"
                )
            )
            with running_notifier(engine, settings):
                mails = relay.wait_for(3)
        finally:
            engine.close()
    assert len(relay.mails) == 3
    assert {mail.mail_from for mail in mails} == {"<>"}  # MAIL FROM:<>: the null reverse path
    by_subject = {parse(mail.data)["Subject"]: (mail.rcpt_tos, parse(mail.data)) for mail in mails}
    assert set(by_subject) == {
        "Delivery Status Notification (Failure)",
        "complaint about message from 192.0.2.0",
        "Automatic reply from recipient@example.com",
    }
    to_bounce, bounce = by_subject["Delivery Status Notification (Failure)"]
    to_complaint, complaint = by_subject["complaint about message from 192.0.2.0"]
    to_notice, notice = by_subject["Automatic reply from recipient@example.com"]
    assert to_bounce == to_complaint == ["sender@example.com"]
    assert to_notice == ["ooto@example.com"]
    assert bounce["From"] == "MAILER-DAEMON@feedback.sendtrail.localhost"
    assert bounce["To"] == "sender@example.com"
    assert bounce.get_param("report-type") == "delivery-status"
    delivery_status = next(
        p for p in bounce.iter_parts() if p.get_content_type() == "message/delivery-status"
    )
    assert "Status: 5.1.1" in delivery_status.as_string()
    assert "Original-Envelope-Id: m-bounce" in delivery_status.as_string()
    assert complaint["From"] == "complaints@feedback.sendtrail.localhost"
    assert complaint["Subject"] == "complaint about message from 192.0.2.0"
    assert complaint.get_param("report-type") == "feedback-report"
    assert "m-ooto" in notice.get_content()

    out = io.StringIO()
    list_notifications(tmp_path, False, out)
    assert out.getvalue().count("delivered") == 3


def test_without_a_relay_forwarded_feedback_parks_at_once(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    try:
        hard_bounce(engine, send(engine, "m-1", configuration_set=None))
        with running_notifier(engine, settings_for({})):
            for _ in range(100):
                out = io.StringIO()
                list_notifications(tmp_path, True, out)
                if "parked" in out.getvalue():
                    break
                time.sleep(0.05)
    finally:
        engine.close()
    assert "email:Bounce  sender@example.com" in out.getvalue()
    assert "error=no [notifications] relay to forward feedback through" in out.getvalue()
