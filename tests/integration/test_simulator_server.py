"""The simulator's receiving server answers as SES's simulator and mails feedback back."""

from __future__ import annotations

import asyncio
import email

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from sendtrail.adapters.simulator_server import SimulatorServer

DOMAINS = ("simulator.amazonses.com",)
VERP = "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000@feedback.test"
MESSAGE = (
    "From: news@example.com\r\nTo: someone\r\nSubject: hi\r\n"
    "Message-ID: <0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000@email.amazonses.com>"
    "\r\n\r\nhello\r\n"
)


class FeedbackSink:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            (envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"")
        )
        return "250 OK"


async def _exchange(recipient: str, sink: FeedbackSink) -> tuple[str, str]:
    loop = asyncio.get_running_loop()
    feedback = await loop.create_server(lambda: SMTP(sink), "127.0.0.3", 0)
    feedback_port = feedback.sockets[0].getsockname()[1]
    server = SimulatorServer(DOMAINS, f"127.0.0.3:{feedback_port}", host="127.0.0.2")
    await server.start()
    try:
        host, port = server.address.split(":")
        client = aiosmtplib.SMTP(hostname=host, port=int(port))
        await client.connect()
        await client.mail(VERP)
        try:
            rcpt = await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as refused:
            await client.quit()
            return f"{refused.code} {refused.message}", ""
        data = await client.data(MESSAGE)
        await client.quit()
        expects_feedback = recipient.lower().startswith(("ooto", "complaint"))
        for _ in range(100 if expects_feedback else 0):
            if sink.received:
                break
            await asyncio.sleep(0.05)
        return f"{rcpt[0]}", f"{data[0]} {data[1]}"
    finally:
        await server.stop()
        feedback.close()


def test_success_is_received_with_ses_reply_and_no_feedback() -> None:
    handler = FeedbackSink()
    rcpt, data = asyncio.run(_exchange("Success+label@Simulator.AmazonSES.com", handler))
    assert rcpt == "250"
    assert data == "250 2.6.0 Message received"
    assert handler.received == []


def test_bounce_is_refused_as_an_unknown_user() -> None:
    rcpt, _ = asyncio.run(_exchange("bounce@simulator.amazonses.com", FeedbackSink()))
    assert rcpt == "550 5.1.1 user unknown"


@pytest.mark.parametrize(
    ("recipient", "content_type", "marker"),
    [
        ("ooto@simulator.amazonses.com", "text/plain", "Auto-Submitted"),
        ("complaint@simulator.amazonses.com", "multipart/report", "Feedback-Type: abuse"),
    ],
)
def test_ooto_and_complaint_mail_feedback_to_the_envelope_sender_with_a_null_path(
    recipient: str, content_type: str, marker: str
) -> None:
    handler = FeedbackSink()
    rcpt, data = asyncio.run(_exchange(recipient, handler))

    assert (rcpt, data) == ("250", "250 2.6.0 Message received")
    [(mail_from, rcpt_tos, content)] = handler.received
    assert mail_from == "<>" and rcpt_tos == [VERP]  # the null reverse path
    report = email.message_from_bytes(content)
    assert report.get_content_type() == content_type
    assert marker in content.decode()
    assert "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000" in content.decode()
