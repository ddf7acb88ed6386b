"""The feedback receiver, over real SMTP on loopback: keep, classify, correlate, apply."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import msgspec
import pytest

from sendtrail.adapters.app import App
from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.feedback_receiver import FeedbackReceiver
from sendtrail.core import commands as cmd
from sendtrail.core import ids
from sendtrail.core.lifecycle import State

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
DOMAIN = "feedback.test"
ALICE, BOB = "alice@example.net", "bob@mail.example.org"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = msgspec.convert({"feedback": {"domain": DOMAIN, "listen": "127.0.0.4:0"}}, Settings)
    instance = App(settings, tmp_path, clock=ManualClock(T0), durable=False)
    yield instance
    instance.close()


def delivered_message(app: App, *recipients: str) -> str:
    message_id = ids.message_id("us-east-1", T0, uuid.uuid4())
    app.engine.execute(
        cmd.RequestSend(message_id=message_id, source="news@example.com", destinations=recipients)
    )
    app.engine.execute(cmd.StartAttempt(message_id=message_id, recipients=recipients))
    for recipient in recipients:
        app.engine.execute(
            cmd.ReportDelivered(message_id=message_id, recipient=recipient, smtp_response="250 ok")
        )
    return message_id


def dsn(recipient: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: someone\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n"
        "--b1--\r\n"
    ).encode()


def arf(reported_message_id: str) -> bytes:
    return (
        "From: feedback@mail.example.org\r\nTo: fbl@feedback.test\r\nSubject: Complaint\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b2"\r\n\r\n'
        "--b2\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        "--b2\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        "Arrival-Date: Mon, 5 Jan 2026 09:00:00 +0000\r\n"
        "--b2\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: news@example.com\r\nTo: redacted@mail.example.org\r\n"
        f"Message-ID: <{reported_message_id}@email.amazonses.com>\r\n"
        "--b2--\r\n"
    ).encode()


def auto_reply(recipient: str) -> bytes:
    return (
        f"From: {recipient}\r\nTo: news@example.com\r\nSubject: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n"
    ).encode()


async def deliver(receiver: FeedbackReceiver, rcpt: str, raw: bytes) -> None:
    host, port = receiver.address.split(":")
    async with aiosmtplib.SMTP(hostname=host, port=int(port)) as client:
        await client.sendmail("", [rcpt], raw)


def run(app: App, *exchanges: tuple[str, bytes]) -> FeedbackReceiver:
    async def scenario() -> FeedbackReceiver:
        receiver = FeedbackReceiver(app)
        await receiver.start()
        try:
            for rcpt, raw in exchanges:
                await deliver(receiver, rcpt, raw)
        finally:
            await receiver.stop()
        return receiver

    return asyncio.run(scenario())


def status_of(app: App, message_id: str, recipient: str) -> State:
    state = app.engine.state(message_id)
    assert state is not None
    return state.recipient(recipient).status


def test_a_dsn_to_the_verp_address_hard_bounces_the_recipient_and_suppresses_it(app: App) -> None:
    message_id = delivered_message(app, ALICE, BOB)

    run(app, (f"{message_id}@{DOMAIN}", dsn(ALICE)))

    assert status_of(app, message_id, ALICE) == State.HARD_BOUNCED
    assert status_of(app, message_id, BOB) == State.DELIVERED
    recipient = app.engine.state(message_id).recipient(ALICE)  # type: ignore[union-attr]
    assert (recipient.bounce_type, recipient.last_status) == ("Permanent", "5.1.1")
    listed = app.suppression.get(ALICE)
    assert listed is not None and listed.reason == "BOUNCE" and listed.message_id == message_id


def test_a_delayed_dsn_is_kept_but_is_not_a_final_bounce(app: App) -> None:
    message_id = delivered_message(app, ALICE)

    run(app, (f"{message_id}@{DOMAIN}", dsn(ALICE, "4.4.1", "delayed")))

    assert status_of(app, message_id, ALICE) == State.DELIVERED


def test_a_redacted_complaint_names_the_recipients_at_the_reporting_domain(app: App) -> None:
    message_id = delivered_message(app, ALICE, BOB)

    run(app, (f"fbl@{DOMAIN}", arf(message_id)))

    assert status_of(app, message_id, BOB) == State.COMPLAINED
    assert status_of(app, message_id, ALICE) == State.DELIVERED
    listed = app.suppression.get(BOB)
    assert listed is not None and listed.reason == "COMPLAINT"


def test_an_auto_reply_moves_the_recipient_to_auto_replied(app: App) -> None:
    message_id = delivered_message(app, ALICE)

    run(app, (f"{message_id}@{DOMAIN}", auto_reply(ALICE)))

    assert status_of(app, message_id, ALICE) == State.AUTO_REPLIED


def test_feedback_that_cannot_be_tied_is_kept_counted_and_inspectable(app: App) -> None:
    receiver = run(app, (f"postmaster@{DOMAIN}", b"Subject: hello\r\n\r\njust a note\r\n"))

    assert (receiver.received, receiver.unmatched) == (1, 1)
    [entry] = app.engine.read_model.feedback(unmatched_only=True)
    assert (entry.kind, entry.message_id) == ("unknown", None)
    assert entry.reason == "no VERP address or original Message-ID of ours"
    assert app.engine.store.get_content(entry.content_sha256) is not None


def test_mail_for_any_other_domain_is_refused_and_junk_does_not_stop_the_server(app: App) -> None:
    async def scenario() -> tuple[int, int]:
        receiver = FeedbackReceiver(app)
        await receiver.start()
        try:
            host, port = receiver.address.split(":")
            async with aiosmtplib.SMTP(hostname=host, port=int(port)) as client:
                await client.mail("")
                with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
                    await client.rcpt("victim@elsewhere.example")
            reader, writer = await asyncio.open_connection(host, int(port))
            await reader.readline()
            writer.write(b"\x00\xff garbage\r\n" + b"A" * 5000 + b"\r\nQUIT\r\n")
            await writer.drain()
            await reader.read()
            writer.close()
            await deliver(receiver, f"postmaster@{DOMAIN}", b"\xff\xfe\x00 not mail at all")
            return refused.value.code, receiver.received
        finally:
            await receiver.stop()

    code, received = asyncio.run(scenario())
    assert code == 550
    assert received == 1


def test_feedback_list_shows_what_was_received(app: App, tmp_path: Path) -> None:
    import subprocess
    import sys

    run(app, (f"postmaster@{DOMAIN}", b"Subject: hello\r\n\r\njust a note\r\n"))
    app.close()

    result = subprocess.run(
        [sys.executable, "-m", "sendtrail.adapters.cli", "feedback", "list", "--unmatched",
         "--data", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "unmatched: no VERP address" in result.stdout
