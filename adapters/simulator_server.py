"""The mailbox simulator's receiving server: SES's simulator addresses, answered for real.

Mail to the simulator domains is routed here over loopback, through the same delivery path as
any other mail. The server answers as SES's simulator does (``250 2.6.0 Message received``,
``550 5.1.1 user unknown``), and for the out-of-office and complaint scenarios it mails the
auto-reply or the ARF report back to the message's envelope sender (the VERP address), so
the feedback receiver and the whole pipeline see what real mail would produce.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from email.parser import BytesHeaderParser

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from sendtrail.core.acceptance.simulator import SimulatorScenario, simulator_scenario
from sendtrail.core.delivery.simulator import (
    SIMULATOR_BOUNCE_DIAGNOSTIC,
    SIMULATOR_SMTP_RESPONSE,
    auto_reply,
    complaint_report,
)

log = logging.getLogger("sendtrail.simulator")

REPORTING_HOST = "simulator.sendtrail.localhost"
ACCEPTED_SCENARIOS = {
    SimulatorScenario.SUCCESS,
    SimulatorScenario.OOTO,
    SimulatorScenario.COMPLAINT,
}
FEEDBACK_ATTEMPTS = 5


class _Handler:
    def __init__(self, server: SimulatorServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        scenario = simulator_scenario(address, self.server.domains)
        if scenario not in ACCEPTED_SCENARIOS:
            # bounce@ (and any other local part): the simulator's unknown user.
            return f"550 {SIMULATOR_BOUNCE_DIAGNOSTIC.removeprefix('smtp; 550 ')}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message_id = BytesHeaderParser().parsebytes(content).get("Message-ID", "")
        sender = envelope.mail_from or ""
        for recipient in envelope.rcpt_tos:
            scenario = simulator_scenario(recipient, self.server.domains)
            if scenario in (SimulatorScenario.OOTO, SimulatorScenario.COMPLAINT) and sender:
                self.server.follow_up(scenario, recipient, sender, str(message_id))
        return SIMULATOR_SMTP_RESPONSE


class SimulatorServer:
    """A service component: ``start()`` binds a loopback port, ``address`` says where."""

    name = "simulator"

    def __init__(
        self,
        domains: Sequence[str],
        feedback_listen: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.domains = tuple(domains)
        self.feedback_host, _, feedback_port = feedback_listen.rpartition(":")
        self.feedback_port = int(feedback_port)
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        assert self._server is not None, "start() first"
        return f"{self._host}:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        handler = _Handler(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname=REPORTING_HOST), self._host, self._port
        )
        log.info("simulator listening", extra={"address": self.address})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def follow_up(
        self, scenario: SimulatorScenario, recipient: str, sender: str, message_id: str
    ) -> None:
        """Send the feedback mail in the background, after the SMTP answer."""
        task = asyncio.create_task(self._send_feedback(scenario, recipient, sender, message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_feedback(
        self, scenario: SimulatorScenario, recipient: str, sender: str, message_id: str
    ) -> None:
        build = auto_reply if scenario is SimulatorScenario.OOTO else complaint_report
        report = build(
            original_message_id=message_id.strip("<>"),
            recipient=recipient,
            envelope_sender=sender,
            reporting_host=REPORTING_HOST,
            timestamp=datetime.now(UTC),
        )
        for attempt in range(FEEDBACK_ATTEMPTS):
            try:
                client = aiosmtplib.SMTP(
                    hostname=self.feedback_host, port=self.feedback_port, timeout=10
                )
                async with client:
                    # Null reverse path: feedback about feedback must never loop back.
                    await client.sendmail("", [sender], report)
                return
            except (aiosmtplib.SMTPException, OSError) as error:
                log.warning(
                    "simulator feedback not delivered yet",
                    extra={"scenario": str(scenario), "attempt": attempt + 1, "error": str(error)},
                )
                await asyncio.sleep(0.5 * 2**attempt)
