"""One delivery attempt for one message and one recipient domain, over SMTP.

``SmtpDeliverer.deliver`` resolves the domain, walks its hosts in order, takes or opens a
connection (STARTTLS whenever offered; required when the message's TLS policy says so), runs
one mail transaction carrying every recipient of the domain, and turns what the remote said
into one ``AttemptOutcome`` per recipient with ``core.delivery.outcomes``. It reports facts;
it never retries later or decides about the message's state.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final, NamedTuple

import msgspec

from sendtrail.core.delivery import mx, outcomes
from sendtrail.core.delivery.mx import Hop, PlanSource
from sendtrail.core.delivery.outcomes import AttemptOutcome, Phase

from .content import PreparedContent
from .pool import ConnectionPool, PoolKey
from .resolver import DnsResolver, ip_literal
from .smtp_client import (
    ConnectFailed,
    ConnectionDropped,
    ConnectTimedOut,
    ReplyTimedOut,
    SessionError,
    SmtpConnection,
    Timeouts,
    TlsFailed,
    TransactionReplies,
)

# Addresses tried per attempt, over all MX hosts (Postfix's smtp_mx_address_limit is 5).
MAX_ADDRESSES_PER_ATTEMPT: Final = 5


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    sender: str  # the VERP address: <message-id>@<feedback domain>
    recipients: tuple[str, ...]  # all of one domain
    content: PreparedContent
    tls_required: bool = False  # the configuration set's TlsPolicy is REQUIRE


class RecipientResult(NamedTuple):
    recipient: str
    outcome: AttemptOutcome
    remote_ip: str | None  # the MX address that gave the verdict, if one was reached


def opportunistic_tls_context() -> ssl.SSLContext:
    """STARTTLS as MTAs do it: encrypt whenever offered, whatever certificate the MX shows.

    Most MX hosts present self-signed or mismatched certificates; refusing them would only
    push the mail back to plain text.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def verified_tls_context(ca_file: str | None = None, *, check_name: bool = True) -> ssl.SSLContext:
    """For TlsPolicy REQUIRE: a certificate from a trusted CA, valid for the MX host name.

    ``check_name=False`` is for a host given as an address (a route to an IP): there is no
    name to check, but the chain must still be trusted.
    """
    context = ssl.create_default_context()
    context.check_hostname = check_name
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class SmtpDeliverer:
    def __init__(
        self,
        resolver: DnsResolver,
        pool: ConnectionPool,
        *,
        ehlo_name: str,
        timeouts: Timeouts,
        attempt_timeout: float = 900.0,
        tls_ca_file: str | None = None,
    ) -> None:
        self._resolver = resolver
        self._pool = pool
        self._ehlo_name = ehlo_name
        self._timeouts = timeouts
        self._attempt_timeout = attempt_timeout
        self._opportunistic = opportunistic_tls_context()
        self._verified = verified_tls_context(tls_ca_file)
        self._verified_address = verified_tls_context(tls_ca_file, check_name=False)

    async def close(self) -> None:
        """Close the pooled connections (QUIT to the idle ones)."""
        await self._pool.close()

    async def deliver(self, domain: str, envelope: Envelope) -> list[RecipientResult]:
        """The outcome for each recipient of ``envelope`` (all in ``domain``)."""
        try:
            async with asyncio.timeout(self._attempt_timeout):
                return await self._deliver(domain, envelope)
        except TimeoutError:
            # Every step has its own timeout; this bounds a domain with many slow hosts, so
            # the attempt always ends well inside its lease.
            return _same(envelope, outcomes.connection_timed_out(Phase.DATA_END), None)

    async def _deliver(self, domain: str, envelope: Envelope) -> list[RecipientResult]:
        plan = await self._resolver.plan(domain)
        if plan.outcome is not None:
            return _same(envelope, plan.outcome, None)
        system_lookup = plan.source is PlanSource.ROUTE
        last: list[RecipientResult] | None = None
        tried = 0
        for hop in plan.hops:
            for ip in await self._resolver.addresses(hop.host, system=system_lookup):
                if tried == MAX_ADDRESSES_PER_ATTEMPT:
                    break
                tried += 1
                results = await self._via(ip, hop, envelope)
                if not all(mx.try_next_host(result.outcome) for result in results):
                    return results
                last = results
        if last is None:  # not one host had an address
            return _same(envelope, outcomes.dns_failure(plan.domain), None)
        return last

    async def _via(self, ip: str, hop: Hop, envelope: Envelope) -> list[RecipientResult]:
        """The transaction through one MX address, on a pooled or a new connection."""
        async with self._pool.lease(PoolKey(ip, hop.port, envelope.tls_required)) as lease:
            reused = lease.connection is not None
            if lease.connection is None:
                opened = await self._open(ip, hop, envelope.tls_required)
                if isinstance(opened, AttemptOutcome):
                    return _same(envelope, opened, ip)
                lease.connection = opened
            replies = await self._send(lease.connection, envelope)
            if reused and isinstance(replies, TransactionReplies) and _stale(replies):
                # The remote closed the idle connection (or its timer ran out just as we took
                # it): that says nothing about the message, so try once on a fresh session.
                lease.connection.close()
                opened = await self._open(ip, hop, envelope.tls_required)
                if isinstance(opened, AttemptOutcome):
                    return _same(envelope, opened, ip)
                lease.connection = opened
                replies = await self._send(opened, envelope)
            if isinstance(replies, AttemptOutcome):
                lease.reusable = lease.connection.is_open
                return _same(envelope, replies, ip)
            lease.reusable = replies.failure is None and lease.connection.is_open
            return [
                RecipientResult(recipient, _recipient_outcome(recipient, replies), ip)
                for recipient in envelope.recipients
            ]

    async def _send(
        self, connection: SmtpConnection, envelope: Envelope
    ) -> TransactionReplies | AttemptOutcome:
        limit = connection.extensions.get("SIZE", "")
        size = envelope.content.size
        if limit.isdigit() and 0 < int(limit) < size:  # RFC 1870: do not send what will fail
            return outcomes.message_too_large(size, int(limit), connection.ip)
        return await connection.send_mail(
            envelope.sender, list(envelope.recipients), envelope.content
        )

    async def _open(
        self, ip: str, hop: Hop, tls_required: bool, *, try_tls: bool = True
    ) -> SmtpConnection | AttemptOutcome:
        """A connection ready for MAIL, or the outcome that stopped it at the host."""
        try:
            connection, greeting = await SmtpConnection.open(ip, hop.port, self._timeouts)
        except SessionError as error:
            return session_outcome(error)
        try:
            if not greeting.ok:
                connection.close()
                return _verdict(Phase.CONNECT, greeting.code, greeting.text)
            reply = await connection.hello(self._ehlo_name)
            if not reply.ok:
                connection.close()
                return _verdict(Phase.EHLO, reply.code, reply.text)
            if not try_tls or not connection.offers("STARTTLS"):
                if tls_required:
                    connection.close()
                    return outcomes.tls_not_offered(hop.host)
                return connection
            return await self._secure(connection, ip, hop, tls_required)
        except asyncio.CancelledError:
            connection.close()
            raise
        except SessionError as error:
            connection.close()
            if isinstance(error, TlsFailed) and not tls_required:
                # Opportunistic TLS that fails is not worth a bounce: MTAs fall back to plain
                # text on a new connection (the failed one is unusable).
                return await self._open(ip, hop, tls_required, try_tls=False)
            if isinstance(error, TlsFailed):
                return outcomes.tls_handshake_failed(hop.host, error.detail)
            return session_outcome(error)

    async def _secure(
        self, connection: SmtpConnection, ip: str, hop: Hop, tls_required: bool
    ) -> SmtpConnection | AttemptOutcome:
        # The certificate names the MX host; an address literal has no name to check or send.
        server_hostname = None if ip_literal(hop.host) else hop.host
        if not tls_required:
            context = self._opportunistic
        else:
            context = self._verified if server_hostname else self._verified_address
        reply = await connection.starttls(context, server_hostname)
        if reply.code != 220:
            if tls_required:
                connection.close()
                return outcomes.tls_handshake_failed(
                    hop.host, f"STARTTLS answered {reply.code} {reply.text}"
                )
            return connection  # RFC 3207 §4.1: go on in plain text
        reply = await connection.hello(self._ehlo_name)
        if not reply.ok:
            connection.close()
            return _verdict(Phase.EHLO, reply.code, reply.text)
        return connection


def session_outcome(error: SessionError) -> AttemptOutcome:
    """What a broken session means for the recipients it had not yet settled."""
    if isinstance(error, ConnectFailed):
        return outcomes.connection_refused()
    if isinstance(error, ConnectTimedOut | ReplyTimedOut):
        return outcomes.connection_timed_out(error.phase)
    return outcomes.connection_dropped(error.phase)


def _recipient_outcome(recipient: str, replies: TransactionReplies) -> AttemptOutcome:
    """The verdict for one recipient: the first failing reply on its path, else the final one."""
    steps = (
        (Phase.MAIL, replies.mail, (250, 251)),
        (Phase.RCPT, replies.rcpt.get(recipient), (250, 251)),
        (Phase.DATA, replies.data, (354,)),
    )
    for phase, reply, expected in steps:
        if reply is None:
            return _unfinished(replies, phase)
        if reply.code not in expected:
            return _verdict(phase, reply.code, reply.text)
    final = replies.final
    if final is None:
        return _unfinished(replies, Phase.DATA_END)
    return _verdict(Phase.DATA_END, final.code, final.text)


def _unfinished(replies: TransactionReplies, phase: Phase) -> AttemptOutcome:
    if replies.failure is not None:
        return session_outcome(replies.failure)
    return outcomes.internal_failure(f"no reply recorded at {phase}")


def _verdict(phase: Phase, code: int, text: str) -> AttemptOutcome:
    """What the core makes of this reply (``classify_reply``), guarded against replies that
    make no sense at this step (a 3xx to RCPT, say), which are treated as a temporary error."""
    if 400 <= code <= 599 or (phase is Phase.DATA_END and 200 <= code < 300):
        return outcomes.classify_reply(phase, code, text)
    return outcomes.classify_reply(
        phase, 451, f"4.5.0 Unexpected reply from remote host: {code} {text}"
    )


def _stale(replies: TransactionReplies) -> bool:
    """The connection was found closed before the remote answered anything of the transaction."""
    return isinstance(replies.failure, ConnectionDropped) and replies.mail is None


def _same(
    envelope: Envelope, outcome: AttemptOutcome, remote_ip: str | None
) -> list[RecipientResult]:
    return [RecipientResult(recipient, outcome, remote_ip) for recipient in envelope.recipients]
