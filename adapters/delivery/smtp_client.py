"""One outbound ESMTP connection: replies, EHLO, STARTTLS and (pipelined) mail transactions.

aiosmtplib, the project's SMTP client, reads exactly one reply per command it sends and drops
replies that arrive before it asks for them, so it cannot pipeline (RFC 2920): MAIL, every RCPT
and DATA would cost a round trip each. This module is the small client that can; it only
speaks the protocol and reports what the remote said. What a reply means is the core's call
(``core.delivery.outcomes``), made in ``smtp.py``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Final, NamedTuple

import msgspec

from sendtrail.core.delivery.outcomes import Phase

from .content import PreparedContent

# A reply longer than this is not SMTP (a multi-line EHLO is a few hundred bytes).
MAX_REPLY_BYTES: Final = 64 * 1024


class Reply(NamedTuple):
    code: int
    text: str  # the lines without their codes, joined by newlines (what outcomes.reply_line takes)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


class Timeouts(NamedTuple):
    connect: float
    command: float
    data: float


class SessionError(Exception):
    """The session broke at ``phase`` before the remote gave a reply."""

    def __init__(self, phase: Phase, detail: str) -> None:
        super().__init__(f"{phase}: {detail}")
        self.phase = phase
        self.detail = detail


class ConnectFailed(SessionError):
    """The TCP connection was refused or the host is unreachable."""


class ConnectTimedOut(SessionError):
    """No TCP connection within the connect timeout."""


class ReplyTimedOut(SessionError):
    """The remote did not answer in time."""


class ConnectionDropped(SessionError):
    """The remote closed the connection, or said something that is not SMTP."""


class TlsFailed(SessionError):
    """The TLS handshake after STARTTLS failed."""


class TransactionReplies(msgspec.Struct, kw_only=True):
    """What the remote answered in one mail transaction, as far as it got.

    ``failure`` is set when the session broke; the replies received before it are kept, so a
    recipient refused at RCPT keeps its own verdict even if the connection dropped at DATA.
    """

    mail: Reply | None = None
    rcpt: dict[str, Reply] = {}
    data: Reply | None = None
    final: Reply | None = None
    failure: SessionError | None = None

    @property
    def accepted(self) -> list[str]:
        return [address for address, reply in self.rcpt.items() if reply.ok]


_TIMED_OUT: Final = object()


class _ReplyReader(asyncio.Protocol):
    """Splits the byte stream into replies and queues them; many may arrive in one read."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a multi-line reply read so far
        self._replies: deque[Reply] = deque()
        self._waiter: asyncio.Future[object] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.lost: str | None = None  # why the connection ended, once it has
        self.transport: asyncio.Transport | None = None

    # --- asyncio callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            if not self._take(line):
                return
        if start:
            del buffer[:start]
        if len(buffer) > MAX_REPLY_BYTES:
            self._abort("reply line too long")
            return
        if self._replies:
            self._wake(None)

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = f"connection lost: {exc}" if exc else "connection closed by remote host"
        self.transport = None
        self._wake(None)
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- for the connection ---------------------------------------------------------------

    async def read(self, phase: Phase, timeout: float) -> Reply:
        if self._replies:
            return self._replies.popleft()
        if self.lost is not None:
            raise ConnectionDropped(phase, self.lost)
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, _settle, waiter, _TIMED_OUT)
        try:
            woken = await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._replies:
            return self._replies.popleft()
        if woken is _TIMED_OUT:
            raise ReplyTimedOut(phase, f"no reply within {timeout:g} s")
        raise ConnectionDropped(phase, self.lost or "connection closed by remote host")

    def write(self, phase: Phase, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionDropped(phase, self.lost or "connection closed")
        self.transport.write(data)

    async def drain(self, phase: Phase, timeout: float) -> None:
        """Wait until the transport's buffer has room again (large messages)."""
        if not self._paused:
            return
        waiter = self._drain_waiter = self._loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            raise ReplyTimedOut(phase, f"could not send within {timeout:g} s") from None
        if self.lost is not None:
            raise ConnectionDropped(phase, self.lost)

    def discard_buffered(self) -> None:
        """Forget bytes received but not read (RFC 3207 §4.2: nothing may precede TLS)."""
        self._buffer.clear()
        self._lines.clear()
        self._replies.clear()

    # --- internals ------------------------------------------------------------------------

    def _take(self, line: bytes) -> bool:
        if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
            self._abort(f"not an SMTP reply: {line[:80]!r}")
            return False
        self._lines.append(line[4:])
        if line[3:4] != b"-":
            text = b"\n".join(self._lines).decode("utf-8", "replace")
            self._lines = []
            self._replies.append(Reply(int(line[:3]), text))
        return True

    def _abort(self, reason: str) -> None:
        self.lost = reason
        self._replies.clear()
        if self.transport is not None:
            self.transport.abort()
        self._wake(None)

    def _wake(self, value: object) -> None:
        if self._waiter is not None:
            _settle(self._waiter, value)


def _settle(future: asyncio.Future[object], value: object) -> None:
    if not future.done():
        future.set_result(value)


def _needs_utf8(addresses: list[str]) -> bool:
    return not all(address.isascii() for address in addresses)


class SmtpConnection:
    """An open SMTP session with one host. Not safe for two transactions at once."""

    def __init__(
        self,
        reader: _ReplyReader,
        ip: str,
        port: int,
        timeouts: Timeouts,
    ) -> None:
        self._reader = reader
        self._loop = asyncio.get_running_loop()
        self.ip = ip
        self.port = port
        self.timeouts = timeouts
        self.extensions: dict[str, str] = {}  # EHLO keyword (upper case) -> its parameters
        self.tls = False
        self.transactions = 0
        self.broken = False  # out of step with the remote: never reuse

    @classmethod
    async def open(cls, ip: str, port: int, timeouts: Timeouts) -> tuple[SmtpConnection, Reply]:
        """Connect and read the greeting (which may be a refusal: the caller looks at it)."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.connect):
                _, reader = await loop.create_connection(lambda: _ReplyReader(loop), ip, port)
        except TimeoutError:
            raise ConnectTimedOut(Phase.CONNECT, f"{ip}:{port}: connect timed out") from None
        except OSError as error:
            raise ConnectFailed(Phase.CONNECT, f"{ip}:{port}: {error.strerror or error}") from None
        connection = cls(reader, ip, port, timeouts)
        try:
            greeting = await reader.read(Phase.CONNECT, timeouts.command)
        except SessionError:
            connection.close()
            raise
        return connection, greeting

    @property
    def is_open(self) -> bool:
        transport = self._reader.transport
        return not self.broken and transport is not None and not transport.is_closing()

    def offers(self, extension: str) -> bool:
        return extension in self.extensions

    async def hello(self, name: str) -> Reply:
        """EHLO, or HELO for a server that does not know EHLO; records the extensions."""
        reply = await self._command(Phase.EHLO, b"EHLO " + name.encode("ascii"))
        if reply.ok:
            self.extensions = _extensions(reply.text)
            return reply
        if reply.code in (500, 501, 502, 504):  # an RFC 821 server: plain HELO, no extensions
            reply = await self._command(Phase.EHLO, b"HELO " + name.encode("ascii"))
        self.extensions = {}
        return reply

    async def starttls(self, context: ssl.SSLContext, server_hostname: str | None) -> Reply:
        """Ask for TLS; on 220 upgrade the connection (``TlsFailed`` when the handshake fails).

        Any other reply is returned as it is and the connection stays in plain text.
        """
        reply = await self._command(Phase.STARTTLS, b"STARTTLS")
        if reply.code != 220:
            return reply
        self._reader.discard_buffered()
        transport = self._reader.transport
        if transport is None:
            raise ConnectionDropped(Phase.STARTTLS, self._reader.lost or "connection closed")
        try:
            upgraded = await self._loop.start_tls(
                transport,
                self._reader,
                context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=self.timeouts.command,
            )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as error:
            self.close()
            raise TlsFailed(Phase.STARTTLS, str(error) or type(error).__name__) from None
        if upgraded is None:
            self.close()
            raise TlsFailed(Phase.STARTTLS, "connection closed during the handshake")
        self._reader.transport = upgraded  # type: ignore[assignment]
        self.tls = True
        self.extensions = {}  # RFC 3207 §4.2: forget what was learnt before TLS; EHLO again
        return reply

    async def send_mail(
        self, sender: str, recipients: list[str], content: PreparedContent
    ) -> TransactionReplies:
        """One mail transaction: MAIL, RCPT for each recipient, DATA and the message.

        With PIPELINING, MAIL, the RCPTs and DATA go out in one write and their replies are
        read afterwards, so the transaction costs two round trips whatever the recipient count.
        """
        self.transactions += 1
        replies = TransactionReplies(rcpt={})
        utf8 = _needs_utf8([sender, *recipients])
        encoding = "utf-8" if utf8 else "ascii"
        mail = b"MAIL FROM:<" + sender.encode(encoding) + b">" + self._mail_parameters(content)
        if utf8:
            mail += b" SMTPUTF8"
        rcpts = [b"RCPT TO:<" + address.encode(encoding) + b">" for address in recipients]
        try:
            if self.offers("PIPELINING"):
                await self._pipelined_envelope(mail, rcpts, recipients, replies)
            else:
                await self._stepwise_envelope(mail, rcpts, recipients, replies)
            if replies.data is not None and replies.data.code == 354:
                replies.final = await self._transfer(content if replies.accepted else None)
            if not (replies.final is not None and replies.final.ok):
                await self._reset()
        except SessionError as error:
            replies.failure = error
            self.close()
        except BaseException:  # cancelled mid-transaction: the session is out of step
            self.close()
            raise
        return replies

    async def quit(self) -> None:
        """Say goodbye politely (bounded by the command timeout), then close."""
        try:
            if self.is_open:
                await self._command(Phase.MAIL, b"QUIT")
        except SessionError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.broken = True
        transport = self._reader.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # --- internals ------------------------------------------------------------------------

    def _mail_parameters(self, content: PreparedContent) -> bytes:
        parameters = b""
        if self.offers("SIZE"):
            parameters += b" SIZE=%d" % content.size
        if content.eight_bit and self.offers("8BITMIME"):
            parameters += b" BODY=8BITMIME"
        return parameters

    async def _pipelined_envelope(
        self,
        mail: bytes,
        rcpts: list[bytes],
        recipients: list[str],
        replies: TransactionReplies,
    ) -> None:
        reader, timeout = self._reader, self.timeouts.command
        reader.write(Phase.MAIL, b"\r\n".join([mail, *rcpts, b"DATA"]) + b"\r\n")
        replies.mail = await reader.read(Phase.MAIL, timeout)
        for address in recipients:
            replies.rcpt[address] = await reader.read(Phase.RCPT, timeout)
        replies.data = await reader.read(Phase.DATA, timeout)
        if replies.data.code == 421:
            self.broken = True

    async def _stepwise_envelope(
        self,
        mail: bytes,
        rcpts: list[bytes],
        recipients: list[str],
        replies: TransactionReplies,
    ) -> None:
        replies.mail = await self._command(Phase.MAIL, mail)
        if not replies.mail.ok:
            return
        for address, rcpt in zip(recipients, rcpts, strict=True):
            replies.rcpt[address] = await self._command(Phase.RCPT, rcpt)
        if replies.accepted:
            replies.data = await self._command(Phase.DATA, b"DATA")

    async def _transfer(self, content: PreparedContent | None) -> Reply:
        """After 354: the message, or a lone dot when every RCPT failed (RFC 2920 §3.1)."""
        reader, timeout = self._reader, self.timeouts.data
        reader.write(Phase.DATA_END, content.wire if content is not None else b".\r\n")
        await reader.drain(Phase.DATA_END, timeout)
        reply = await reader.read(Phase.DATA_END, timeout)
        if reply.code == 421:
            self.broken = True
        return reply

    async def _reset(self) -> None:
        """RSET after a transaction that did not end in a delivery, so the session is clean."""
        if not self.is_open:
            return
        reply = await self._command(Phase.MAIL, b"RSET")
        if not reply.ok:
            self.broken = True

    async def _command(self, phase: Phase, line: bytes) -> Reply:
        self._reader.write(phase, line + b"\r\n")
        try:
            reply = await self._reader.read(phase, self.timeouts.command)
        except SessionError:
            self.close()  # a late reply would be taken for the next command's
            raise
        if reply.code == 421:  # RFC 5321 §3.8: the server is closing the session
            self.broken = True
        return reply


def _extensions(ehlo_text: str) -> dict[str, str]:
    """``{"PIPELINING": "", "SIZE": "35882577", ...}`` from an EHLO reply's lines."""
    extensions: dict[str, str] = {}
    for line in ehlo_text.split("\n")[1:]:  # the first line is the server's greeting
        keyword, _, parameters = line.strip().partition(" ")
        if keyword:
            extensions[keyword.upper()] = parameters
    return extensions
