"""``SmtpSubmission``: the SMTP submission service component (``[smtp]`` in the config).

Listens on ``[smtp] listen`` (STARTTLS) and, when set, ``[smtp] tls_listen`` (implicit TLS),
in the service's event loop. Stopping closes the listeners, ends every session, and waits
for the sends already under way to be recorded: nothing a client was told is accepted, and
nothing the engine accepted, is lost.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from pathlib import Path

from ..app import App
from ..config import SmtpSettings
from .gateway import SubmissionGateway
from .session import SubmissionSession
from .tls import server_context

log = logging.getLogger("sendtrail.smtp")

# SES closes a connection after about 10 s without a command (DG:send-email-smtp-client-
# command-line).
IDLE_TIMEOUT_SECONDS = 10.0
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 30.0


def split_listen(address: str) -> tuple[str, int]:
    """``"127.0.0.1:2587"`` / ``"[::1]:2587"`` -> host and port."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _engine_directory(app: App) -> Path:
    store_path = getattr(app.engine.store, "path", None)
    return Path(store_path).parent if store_path is not None else Path(app.settings.data_dir)


class SmtpSubmission:
    name = "smtp-submission"

    def __init__(
        self,
        app: App,
        settings: SmtpSettings | None = None,
        *,
        data_dir: Path | None = None,
        hostname: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connections: int = 1000,
    ) -> None:
        self.app = app
        self.settings = settings if settings is not None else app.settings.smtp
        # The self-signed pair lives next to the event log unless told otherwise.
        self.data_dir = data_dir if data_dir is not None else _engine_directory(app)
        self.hostname = hostname or socket.gethostname()
        self.idle_timeout = idle_timeout
        self.gateway = SubmissionGateway(
            app,
            trusted_networks=self.settings.trusted_networks,
            max_connections=max_connections,
        )
        self.port: int | None = None  # bound port of [smtp] listen, once started
        self.tls_port: int | None = None  # bound port of [smtp] tls_listen, if configured
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        # aiosmtpd logs every command line at INFO, AUTH PLAIN's credentials included.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        context = server_context(
            self.settings.tls_cert, self.settings.tls_key, self.data_dir, self.hostname
        )
        self.port = await self._listen(self.settings.listen, context, implicit_tls=False)
        if self.settings.tls_listen:
            self.tls_port = await self._listen(self.settings.tls_listen, context, implicit_tls=True)

    async def _listen(self, address: str, context: ssl.SSLContext, *, implicit_tls: bool) -> int:
        host, port = split_listen(address)
        loop = asyncio.get_running_loop()

        def new_session() -> SubmissionSession:
            return SubmissionSession(
                self.gateway,
                hostname=self.hostname,
                tls_context=context,
                implicit_tls=implicit_tls,
                idle_timeout=self.idle_timeout,
                loop=loop,
            )

        server = await loop.create_server(
            new_session,
            host,
            port,
            ssl=context if implicit_tls else None,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_SECONDS if implicit_tls else None,
            reuse_address=True,
        )
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        log.info(
            "smtp listening",
            extra={"address": f"{host}:{bound}", "tls": "implicit" if implicit_tls else "starttls"},
        )
        return bound

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        # Ending the sessions cancels their waits; sends already started run on (shielded).
        for session in list(self.gateway.sessions):
            if isinstance(session, SubmissionSession):
                session.close()
        await self.gateway.drain(STOP_TIMEOUT_SECONDS)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self.gateway.sends_in_flight:
            log.error("sends still running at stop", extra={"count": self.gateway.sends_in_flight})
