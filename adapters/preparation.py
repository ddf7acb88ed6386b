"""After the answer: render, assemble, sign and scan an accepted message, once.

Acceptance stores the request as it came; before the first delivery attempt the delivery
path calls ``Preparer.prepare`` for the message. It renders a template (a failure is SES's
``RenderingFailure``), builds the MIME for formatted sends, gives it SES's Message-ID and
Date and drops the X-SES headers (``finalize``), signs it with the sending domain's DKIM key,
scans it (infected: SES's Reject, never delivered), bounces the recipients on a suppression
list without an attempt, and records the outgoing bytes by address (``MessagePrepared``).
Each step is an event, so a message prepared once is never prepared again, and a crash
between steps resumes where the log says it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from email.parser import BytesHeaderParser

from sendtrail.core import commands as cmd
from sendtrail.core import ids
from sendtrail.core import resources as res
from sendtrail.core.acceptance.addresses import parse_address
from sendtrail.core.acceptance.errors import SesError
from sendtrail.core.acceptance.requests import (
    FormattedMessage,
    RawContent,
    TemplateContent,
    decode_stored,
)
from sendtrail.core.acceptance.simulator import SimulatorScenario, simulator_scenario
from sendtrail.core.acceptance.templates import EmailTemplate, RenderedTemplate, render_template
from sendtrail.core.assembly import finalize, header_domain_for_region
from sendtrail.core.assembly.formatted import simple_message
from sendtrail.core.assembly.scan import ContentScanner
from sendtrail.core.assembly.simple import build_simple
from sendtrail.core.delivery.suppression import is_send_suppressed
from sendtrail.core.lifecycle import State
from sendtrail.core.state import MessageState

from .app import App
from .clock import new_uuid
from .dkim_keys import load_key
from .dkim_signing import sign_message
from .sqlite_store import SqliteEventStore
from .stores import read_store

log = logging.getLogger("sendtrail.preparation")


class Preparer:
    def __init__(self, app: App, scanner: ContentScanner) -> None:
        self.app = app
        self.scanner = scanner
        self._remote_store = not isinstance(app.engine.store, SqliteEventStore)
        region = app.settings.region
        self.header_domain = app.settings.delivery.message_id_domain or header_domain_for_region(
            region
        )

    async def prepare(self, message_id: str) -> MessageState | None:
        """The message ready for delivery (or stopped); None if it does not exist."""
        engine = self.app.engine
        state = await read_store(self._remote_store, engine.state, message_id)
        if state is None or state.outgoing_sha256 is not None or not _awaiting(state):
            return state
        stored = await read_store(
            self._remote_store, engine.store.get_content, state.content_sha256 or ""
        )
        if stored is None:
            raise LookupError(f"message {message_id} has no stored content")
        kept = decode_stored(stored, state.operation)
        outgoing = self._build(kept)
        if isinstance(outgoing, SesError):
            await engine.execute_async(
                cmd.FailRendering(
                    message_id=message_id,
                    template_name=_template_name(kept),
                    error_message=outgoing.message,
                )
            )
            return engine.state(message_id)
        final = self._sign(finalize(outgoing, message_id, self.header_domain, state.requested_at))
        verdict = await self.scanner.scan(final)
        if verdict.infected:
            log.info("message rejected by the content scan",
                     extra={"message_id": message_id, "signature": verdict.signature})  # fmt: skip
            await engine.execute_async(
                cmd.RejectContent(message_id=message_id, detail=verdict.signature or "")
            )
            return engine.state(message_id)
        await self._suppress(state)
        await engine.execute_async(
            cmd.PrepareMessage(
                message_id=message_id,
                content_sha256=hashlib.sha256(final).hexdigest(),
                header_message_id=ids.header_message_id(message_id, self.header_domain),
            ),
            contents=(final,),
        )
        return engine.state(message_id)

    def _build(self, kept: RawContent | FormattedMessage) -> bytes | SesError:
        if isinstance(kept, RawContent):
            return kept.data
        rendered: RenderedTemplate | None = None
        if isinstance(kept.content, TemplateContent):
            try:
                rendered = render_template(self._template(kept.content), kept.content.template_data)
            except SesError as error:
                return error
        return build_simple(simple_message(kept, rendered))

    def _template(self, content: TemplateContent) -> EmailTemplate:
        if content.template_name is None:
            return EmailTemplate(
                name="", subject=content.subject, text=content.text, html=content.html
            )
        stored = self.app.registry.get(res.Template, content.template_name)
        if stored is None and self.app.registry.refresh():
            # Made by another process a moment ago, and not yet announced here.
            stored = self.app.registry.get(res.Template, content.template_name)
        if stored is None:  # deleted since the send was accepted
            return EmailTemplate(name=content.template_name)
        return EmailTemplate(
            name=stored.name, subject=stored.subject, text=stored.text, html=stored.html
        )

    def _sign(self, message: bytes) -> bytes:
        """Sign with the From domain's Easy-DKIM key, when it has one and signing is on."""
        domain = _from_domain(message)
        identity = self.app.registry.get(res.Identity, domain) if domain else None
        dkim = identity.dkim if identity is not None else None
        if dkim is None or not dkim.signing_enabled:
            return message
        private_key = self.app.engine.store.get_content(dkim.private_key_sha256)
        if private_key is None:
            log.warning("dkim key missing", extra={"domain": domain})
            return message
        return sign_message(message, load_key(domain or "", dkim.selector, private_key))

    async def _suppress(self, state: MessageState) -> None:
        reasons = self.app.suppression_reasons(state)
        domains = self.app.settings.simulator.domains
        for recipient in state.recipients.values():
            if recipient.status is not State.ACCEPTED:
                continue
            subtype = None
            if simulator_scenario(recipient.address, domains) is SimulatorScenario.SUPPRESSION_LIST:
                subtype, reason = "Suppressed", "BOUNCE"
            else:
                listed = await read_store(
                    self._remote_store, self.app.suppression.reason, recipient.address
                )
                if is_send_suppressed(listed, reasons):
                    subtype, reason = "OnAccountSuppressionList", str(listed)
            if subtype is not None:
                await self.app.engine.execute_async(
                    cmd.SuppressRecipient(
                        message_id=state.message_id,
                        recipient=recipient.address,
                        reason=reason,
                        feedback_id=ids.message_id(
                            self.app.settings.region, self.app.clock.now(), new_uuid()
                        ),
                        bounce_subtype=subtype,
                    )
                )


def _awaiting(state: MessageState) -> bool:
    return any(r.status is State.ACCEPTED for r in state.recipients.values())


def _template_name(kept: RawContent | FormattedMessage) -> str:
    if isinstance(kept, FormattedMessage) and isinstance(kept.content, TemplateContent):
        return kept.content.template_name or ""
    return ""


def _from_domain(message: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(message).get("From")
    if not value:
        return None
    try:
        return parse_address(str(value)).domain
    except SesError:
        return None
