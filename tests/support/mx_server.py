"""Scripted receiving SMTP servers (MX hosts) on loopback: aiosmtpd, one thread and loop each.

A server answers as its ``Script`` says: per recipient (by local part) at RCPT, and per
message at the end of DATA (a reply, or ``DROP`` to close the connection, or ``STALL`` to say
nothing for a while). It counts connections and records what it received, so tests can check
connection reuse, pipelining, 8BITMIME and TLS from the server's side.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

DROP = "DROP"
STALL = "STALL"


@dataclass
class Script:
    rcpt: dict[str, str] = field(default_factory=dict)  # local part -> reply at RCPT
    data: Sequence[str] = ("250 2.0.0 Ok: queued as TEST",)  # per message; the last repeats
    mail: str | None = None  # reply to every MAIL (None: accept)
    pipelining: bool = True
    tls: ssl.SSLContext | None = None  # offer STARTTLS with this context
    stall_seconds: float = 30.0
    idle_timeout: float = 300.0  # the server closes a connection silent for this long


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool


class _RecordingSMTP(SMTP):
    """Notes whether a whole envelope (MAIL ... DATA) arrived in one read: pipelining."""

    def __init__(self, owner: LoopbackSmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        if data.startswith(b"MAIL FROM") and data.endswith(b"DATA\r\n"):
            self._owner.pipelined += 1
        super().data_received(data)


class _Handler:
    def __init__(self, owner: LoopbackSmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.owner.script.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.script.mail is not None:
            return self.owner.script.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.owner.script.rcpt.get(address.partition("@")[0])
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        script = owner.script
        index = owner.data_count
        owner.data_count += 1
        reply = script.data[min(index, len(script.data) - 1)]
        owner.attempted.append(list(envelope.rcpt_tos))
        if reply == DROP:
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 dropped"
        if reply == STALL:
            await asyncio.sleep(script.stall_seconds)
            return "451 4.4.2 stalled"
        if reply.startswith("2"):
            content = envelope.original_content or b""
            owner.messages.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=content,
                    mail_options=list(envelope.mail_options),
                    tls=server._tls_protocol is not None,
                )
            )
        return reply


class LoopbackSmtpServer:
    def __init__(self, host: str = "127.0.0.2", port: int = 0, script: Script | None = None):
        self.host = host
        self.port = port
        self.script = script or Script()
        self.connections = 0
        self.pipelined = 0
        self.data_count = 0
        self.attempted: list[list[str]] = []  # recipients of every DATA, whatever the reply
        self.messages: list[Received] = []  # messages accepted
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> LoopbackSmtpServer:
        handler = _Handler(self)

        def protocol() -> SMTP:
            self.connections += 1
            return _RecordingSMTP(
                self,
                handler,
                hostname="mx.test",
                tls_context=self.script.tls,
                require_starttls=False,
                decode_data=False,
                enable_SMTPUTF8=True,
                data_size_limit=10 * 1024 * 1024,
                timeout=self.script.idle_timeout,
                loop=self._loop,
            )

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            _serve(self._loop, protocol, sock), self._loop
        ).result()
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> LoopbackSmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def delivered_to(self) -> list[str]:
        return [rcpt for message in self.messages for rcpt in message.rcpt_tos]


async def _serve(loop: asyncio.AbstractEventLoop, factory: Any, sock: socket.socket) -> Any:
    return await loop.create_server(factory, sock=sock)


def free_port(host: str = "127.0.0.2") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def self_signed(directory: Path, host_name: str, address: str) -> tuple[Path, Path]:
    """A certificate for ``host_name`` (and ``address``) signed by itself, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host_name), x509.IPAddress(ipaddress.ip_address(address))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{host_name}.pem"
    key_path = directory / f"{host_name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
