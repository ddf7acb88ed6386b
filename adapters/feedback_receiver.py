"""The feedback SMTP receiver: bounces, complaints and auto-replies coming back by mail.

It accepts mail only for addresses in the feedback domain (the envelope sender of every
outgoing message is ``<message-id>@<feedback domain>``) and refuses everything else, so it is
never a relay. Each message is kept (content store + ``FeedbackReceived``), classified by the
pure parser, tied to the message and recipients it is about, and turned into the commands
that move those recipients. Whatever arrives, the server keeps running: a message it cannot
understand is kept as unmatched, and an internal failure answers 451 so the sender retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

from aiosmtpd.smtp import SMTP, Envelope, Session

from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core import ids
from sendtrail.core.feedback import FeedbackReport, RecipientVerdict, classify
from sendtrail.core.feedback.correlate import (
    correlate,
    message_id_from_addresses,
    message_id_from_report,
)
from sendtrail.core.feedback.model import KIND_AUTOREPLY, KIND_BOUNCE, KIND_COMPLAINT
from sendtrail.core.lifecycle import IllegalTransition
from sendtrail.core.ports import ConcurrencyError
from sendtrail.core.state import MessageState, UnknownRecipient

from .app import App
from .clock import new_uuid

log = logging.getLogger("sendtrail.feedback")

MAX_SIZE = 10 * 2**20


class FeedbackReceiver:
    name = "feedback"

    def __init__(self, app: App, *, listen: str | None = None) -> None:
        self.app = app
        self.domain = app.settings.feedback.domain.lower()
        host, _, port = (listen or app.settings.feedback.listen).rpartition(":")
        self._host, self._port = host.strip("[]"), int(port)
        self._server: asyncio.Server | None = None
        self.received = 0
        self.unmatched = 0

    @property
    def address(self) -> str:
        assert self._server is not None, "start() first"
        return f"{self._host}:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        handler = _Handler(self)
        self._server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(handler, data_size_limit=MAX_SIZE, hostname=self.domain),
            self._host,
            self._port,
        )
        log.info("feedback listening", extra={"address": self.address})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def accepts(self, address: str) -> bool:
        return address.strip().strip("<>").rpartition("@")[2].lower() == self.domain

    async def receive(self, raw: bytes, envelope_recipients: Sequence[str]) -> ev.FeedbackReceived:
        """Keep, classify, correlate and apply one feedback message."""
        report = classify(raw)
        states = self._candidate_states(report, envelope_recipients)
        correlation = correlate(
            report,
            envelope_recipients,
            self.domain,
            {message_id: tuple(state.recipients) for message_id, state in states.items()},
        )
        sha = hashlib.sha256(raw).hexdigest()
        record = ev.FeedbackReceived(
            at=self.app.clock.now(),
            content_sha256=sha,
            kind=report.kind,
            envelope_recipients=tuple(envelope_recipients),
            message_id=correlation.message_id if correlation.recipients else None,
            recipients=tuple(address for address, _ in correlation.recipients),
            reason=correlation.reason,
        )
        try:
            await self.app.engine.store.append_async(f"feedback/{sha}", 0, [record], [raw])
        except ConcurrencyError:
            log.info("feedback received again", extra={"content_sha256": sha})
        self.received += 1
        if record.message_id is None:
            self.unmatched += 1
            log.info("feedback unmatched", extra={"content_sha256": sha, "reason": record.reason})
            return record
        state = states[record.message_id]
        for recipient, verdict in correlation.recipients:
            command = self._command(report, verdict, state, recipient)
            if command is None:
                continue
            try:
                await self.app.engine.execute_async(command)
            except (IllegalTransition, UnknownRecipient) as refused:
                # Kept in the inbox all the same; the lifecycle decides what news still counts.
                log.info(
                    "feedback does not apply",
                    extra={"message_id": record.message_id, "recipient": recipient,
                           "reason": str(refused)},
                )  # fmt: skip
        return record

    def _candidate_states(
        self, report: FeedbackReport, envelope_recipients: Sequence[str]
    ) -> dict[str, MessageState]:
        states = {}
        for message_id in (
            message_id_from_addresses(envelope_recipients, self.domain),
            message_id_from_report(report),
        ):
            if message_id is not None and message_id not in states:
                state = self.app.engine.state(message_id)
                if state is not None:
                    states[message_id] = state
        return states

    def _command(
        self, report: FeedbackReport, verdict: RecipientVerdict, state: MessageState, rcpt: str
    ) -> cmd.Command | None:
        feedback_id = ids.message_id(self.app.settings.region, self.app.clock.now(), new_uuid())
        policy = self.app.suppression_policy(state, rcpt)
        if report.kind == KIND_BOUNCE and verdict.action != "delayed":
            return cmd.ReportBounce(
                message_id=state.message_id,
                recipient=rcpt,
                bounce_type=verdict.bounce_type or "Undetermined",
                bounce_subtype=verdict.bounce_subtype or "Undetermined",
                feedback_id=feedback_id,
                action=verdict.action or "failed",
                status=verdict.status,
                diagnostic_code=verdict.diagnostic_code,
                reporting_mta=report.reporting_mta,
                remote_mta_ip=None,
                suppression=policy,
            )
        if report.kind == KIND_COMPLAINT:
            return cmd.ReportComplaint(
                message_id=state.message_id,
                recipient=rcpt,
                feedback_id=feedback_id,
                feedback_type=report.feedback_type,
                user_agent=report.user_agent,
                arrival_date=report.arrival_date,
                suppression=policy,
            )
        if report.kind == KIND_AUTOREPLY:
            return cmd.ReportAutoReply(
                message_id=state.message_id,
                recipient=rcpt,
                feedback_id=feedback_id,
                subject=report.subject,
            )
        # Delivery reports and delay notices change nothing: the receiving server had the
        # message, and a downstream delay is not a final outcome. They are kept in the inbox.
        return None


class _Handler:
    def __init__(self, receiver: FeedbackReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.receiver.accepts(address):
            return "550 5.7.1 Relaying denied: this server accepts feedback only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            await self.receiver.receive(envelope.original_content or b"", envelope.rcpt_tos)
        except Exception:
            log.exception("feedback not processed")
            return "451 4.3.0 Temporary failure, please retry"
        return "250 OK"
