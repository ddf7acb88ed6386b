"""One SMTP submission session: aiosmtpd's protocol, with SES's replies and policies.

aiosmtpd supplies the command loop, STARTTLS and the AUTH PLAIN/LOGIN exchanges. Everything
SES words differently, or that must hold per client (trusted networks), is overridden here:
EHLO, AUTH's preconditions and results, MAIL, RCPT, DATA, RSET, NOOP, the idle timeout and
internal errors. Messages go to the engine through the shared ``SubmissionGateway``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import ssl
import sys
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from sendtrail.core.acceptance.content_rules import MAX_MESSAGE_BYTES, Surface
from sendtrail.core.acceptance.requests import RawContent, SendRequest

from . import replies
from .data import MessageTooLong, read_message
from .gateway import SubmissionGateway
from .paths import is_valid_mailbox, parse_parameters, parse_path, shown, strip_keyword

log = logging.getLogger("sendtrail.smtp")

MAX_MESSAGE_SIZE = MAX_MESSAGE_BYTES[Surface.SMTP]
# RFC 5321 4.5.3.1.8 asks for at least 100; SES refuses more than 50 after DATA, with its own
# words, so this only bounds the memory one transaction can take.
MAX_RECIPIENTS = 1000
# RFC 5321 4.5.3.1.4: 512 octets per command line, more with extension parameters.
COMMAND_LINE_LIMIT = 512
MAIL_LINE_LIMIT = 1024
# Failed AUTH attempts are answered slowly and a session gets a few, to slow guessing.
AUTH_FAILURE_DELAY_SECONDS = 0.25
AUTH_ATTEMPTS_PER_SESSION = 5
_CRLF = b"\r\n"


class _NoHooks:
    """aiosmtpd's "handler", whose ``handle_*`` hooks this server does not use: the session
    overrides the commands themselves. Listing no attributes keeps session setup cheap."""

    def __dir__(self) -> list[str]:
        return []


_NO_HOOKS = _NoHooks()


class SubmissionSession(SMTP):
    # SES's LOGIN prompts: "334 VXNlcm5hbWU6" / "334 UGFzc3dvcmQ6" (observed transcript).
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(
        self,
        gateway: SubmissionGateway,
        *,
        hostname: str,
        tls_context: ssl.SSLContext | None,
        implicit_tls: bool,
        idle_timeout: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.gateway = gateway
        self.implicit_tls = implicit_tls
        super().__init__(
            _NO_HOOKS,
            data_size_limit=MAX_MESSAGE_SIZE,
            enable_SMTPUTF8=False,  # SES has no SMTPUTF8 (reference 1.7)
            decode_data=False,
            hostname=hostname,
            ident=replies.BANNER_IDENT,
            # On the implicit-TLS port the whole connection is TLS already: no STARTTLS.
            tls_context=None if implicit_tls else tls_context,
            timeout=idle_timeout,
            auth_require_tls=not implicit_tls,
            authenticator=self._check_credentials,
            command_call_limit={"AUTH": AUTH_ATTEMPTS_PER_SESSION, "*": sys.maxsize},
            loop=loop,
        )
        # aiosmtpd keeps these limits in a class attribute that every session changes; a
        # session's own copy keeps concurrent sessions from growing each other's limits.
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LINE_LIMIT)
        self.command_size_limits["MAIL"] = MAIL_LINE_LIMIT
        self.command_size_limits["RCPT"] = MAIL_LINE_LIMIT
        self.admitted = False
        self.trusted = False
        self.peer_ip: str | None = None
        self.access_key_id: str | None = None
        self._busy = False
        self._last_activity = loop.time()

    def __dir__(self) -> list[str]:
        # aiosmtpd's constructor finds commands and AUTH mechanisms by listing every attribute
        # of the new session (dir, inspect.getmembers): a fifth of the server's time with a
        # connection per message. Listing only what it looks for makes that cheap.
        return _dispatch_names(type(self))

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is not None:
            # STARTTLS completed: aiosmtpd swaps in the TLS transport and a fresh session.
            super().connection_made(transport)
            self.access_key_id = None
            return
        if not self.gateway.admit(self):
            transport.write(replies.TOO_MANY_CONNECTIONS.encode() + _CRLF)
            transport.close()
            return
        self.admitted = True
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self.trusted = self.gateway.is_trusted(self.peer_ip)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self.admitted:
            return
        self.gateway.release(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        self._last_activity = self.loop.time()
        super().data_received(data)

    def _timeout_cb(self) -> None:
        # Idle means "nothing from the client": not while a message is being recorded, and
        # not while a long DATA is still arriving (aiosmtpd counts only whole commands).
        idle_for = self.loop.time() - self._last_activity
        if self._busy or idle_for < self._timeout_duration:
            remaining = self._timeout_duration - idle_for
            self._reset_timeout(max(remaining, 0.1) if not self._busy else None)
            return
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(replies.IDLE_TIMEOUT.encode() + _CRLF)
        super()._timeout_cb()

    def close(self) -> None:
        """End the session now (the server is stopping)."""
        if self.transport is not None:
            self.transport.close()

    @property
    def tls_active(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error", extra={"peer": self.peer_ip}, exc_info=error)
        return replies.TEMPORARY_FAILURE

    # --- authentication -----------------------------------------------------------------

    async def check_auth_needed(self, caller_method: str) -> bool:
        assert self.session is not None
        if self.session.authenticated or self.trusted:
            return False
        await self.push(replies.AUTH_REQUIRED)
        return True

    def _check_credentials(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)
        access_key_id = self.gateway.authenticate(data.login, data.password)
        if access_key_id is None:
            log.info("SMTP authentication failed", extra={"peer": self.peer_ip})
            return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)
        self.access_key_id = access_key_id
        return AuthResult(success=True, auth_data=access_key_id, message=replies.AUTH_SUCCESSFUL)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        assert self.session is not None
        if not self.tls_active:
            await self.push(replies.STARTTLS_FIRST)
            return
        if self.session.authenticated:
            await self.push(replies.ALREADY_AUTHENTICATED)
            return
        await super().smtp_AUTH(arg)
        if self.session.authenticated is not True and self.transport is not None:
            await asyncio.sleep(AUTH_FAILURE_DELAY_SECONDS)

    # --- greeting -----------------------------------------------------------------------

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        if not hostname:
            await self.push(replies.syntax("EHLO hostname"))
            return
        assert self.session is not None
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = [f"250-{self.hostname}", "250-8BITMIME", f"250-SIZE {MAX_MESSAGE_SIZE}"]
        if self.tls_context is not None and not self.tls_active:
            lines.append("250-STARTTLS")
        if self.tls_active:
            lines.append(replies.EHLO_AUTH)
        lines.append(replies.EHLO_LAST)
        await self.push("\r\n".join(lines))

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.tls_active:
            await self.push("554 5.5.1 Error: TLS already active")
            return
        await super().smtp_STARTTLS(arg)

    @syntax("NOOP [ignored]")
    async def smtp_NOOP(self, arg: str) -> None:
        await self.push(replies.OK)

    @syntax("RSET")
    async def smtp_RSET(self, arg: str) -> None:
        if arg:
            await self.push(replies.syntax("RSET"))
            return
        self._set_rset_state()
        await self.push(replies.OK)

    # --- the transaction ----------------------------------------------------------------

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.envelope is not None
        text = strip_keyword(arg, "FROM:")
        if text is None:
            await self.push(replies.syntax("MAIL FROM: <address>"))
            return
        if self.envelope.mail_from is not None:
            await self.push(replies.NESTED_MAIL)
            return
        path = parse_path(text)
        if path is None or not is_valid_mailbox(path.address):
            shown_address = path.address if path is not None else text
            await self.push(replies.invalid_sender(shown(shown_address)))
            return
        parameters = parse_parameters(path.parameters)
        if parameters is None:
            await self.push(replies.syntax("MAIL FROM: <address> [SP <mail-parameters>]"))
            return
        refusal = _mail_parameter_refusal(parameters)
        if refusal is not None:
            await self.push(refusal)
            return
        self.envelope.mail_from = path.address
        self.envelope.mail_options.extend(path.parameters)
        await self.push(replies.OK)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.envelope is not None
        if self.envelope.mail_from is None:
            await self.push(replies.NEED_MAIL)
            return
        text = strip_keyword(arg, "TO:")
        if text is None:
            await self.push(replies.syntax("RCPT TO: <address>"))
            return
        path = parse_path(text)
        if path is None or not is_valid_mailbox(path.address):
            shown_address = path.address if path is not None else text
            await self.push(replies.unknown_recipient(shown(shown_address)))
            return
        if path.parameters:
            await self.push(replies.PARAMETERS_NOT_RECOGNISED)
            return
        if len(self.envelope.rcpt_tos) >= MAX_RECIPIENTS:
            await self.push(replies.TOO_MANY_RECIPIENTS)
            return
        self.envelope.rcpt_tos.append(path.address)
        await self.push(replies.OK)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if arg:
            await self.push(replies.syntax("DATA"))
            return
        if not self.envelope.rcpt_tos:
            await self.push(replies.NEED_RCPT)
            return
        await self.push(replies.START_DATA)
        try:
            message = await read_message(self._reader, MAX_MESSAGE_SIZE)
        except MessageTooLong:
            self._set_post_data_state()
            await self.push(replies.MESSAGE_TOO_LONG)
            return
        except asyncio.IncompleteReadError:
            # The client went away mid-message: there is nothing to accept and no one to tell.
            self.close()
            return
        request = SendRequest(
            surface=Surface.SMTP,
            operation="SendRawEmail",
            content=RawContent(data=message),
            source=self.envelope.mail_from,
            destinations=tuple(self.envelope.rcpt_tos),
            caller=self.access_key_id,
            source_ip=self.peer_ip,
        )
        self._set_post_data_state()
        self._busy = True
        try:
            reply = await self.gateway.submit(request)
        finally:
            self._busy = False
        await self.push(reply)


@functools.cache
def _dispatch_names(cls: type) -> list[str]:
    """The attributes aiosmtpd dispatches to: ``smtp_<COMMAND>`` and ``auth_<MECHANISM>``."""
    return [name for name in dir(cls) if name.startswith(("smtp_", "auth_"))]


def _mail_parameter_refusal(parameters: dict[str, str]) -> str | None:
    """The reply refusing MAIL's parameters, or None when they are all acceptable."""
    for keyword, value in parameters.items():
        if keyword == "SIZE":
            if not value.isdigit():
                return replies.syntax("MAIL FROM: <address> [SP <mail-parameters>]")
            if int(value) > MAX_MESSAGE_SIZE:
                return replies.MESSAGE_TOO_LONG
        elif keyword == "BODY":
            if value.upper() not in ("7BIT", "8BITMIME"):
                return "501 Error: BODY can only be one of 7BIT, 8BITMIME"
        elif keyword != "AUTH":  # RFC 4954 5: AUTH=<> is allowed and may be ignored
            return replies.PARAMETERS_NOT_RECOGNISED
    return None
