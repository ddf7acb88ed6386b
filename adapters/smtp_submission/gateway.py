"""What every session of one submission server shares: who may send, and the way to the engine.

Sends run as tasks of their own, shielded from the session: a client that disconnects (or a
server that stops) while its message is being recorded cancels only its wait for the reply,
never the recording, so nothing the engine accepts is half done. ``drain`` waits for them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable

from sendtrail.core.acceptance.errors import SesError
from sendtrail.core.acceptance.requests import SendRequest

from ..app import App
from . import replies
from .credentials import CredentialChecker

log = logging.getLogger("sendtrail.smtp")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``["127.0.0.0/8", "::1"]`` as networks; a bare address is a network of one."""
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


class SubmissionGateway:
    def __init__(
        self,
        app: App,
        *,
        trusted_networks: Iterable[str] = (),
        max_connections: int = 1000,
    ) -> None:
        self.app = app
        self.credentials = CredentialChecker(app.settings.credentials, app.settings.region)
        self.trusted_networks = parse_networks(trusted_networks)
        self.max_connections = max_connections
        self.sessions: set[asyncio.BaseProtocol] = set()
        self._sends: set[asyncio.Task[str]] = set()

    # --- sessions -------------------------------------------------------------------------

    def admit(self, session: asyncio.BaseProtocol) -> bool:
        """Register a new session; False when the server already has as many as it takes."""
        if len(self.sessions) >= self.max_connections:
            return False
        self.sessions.add(session)
        return True

    def release(self, session: asyncio.BaseProtocol) -> None:
        self.sessions.discard(session)

    def is_trusted(self, peer_ip: str | None) -> bool:
        """Like Postfix's mynetworks: these clients may submit without AUTH or TLS."""
        if peer_ip is None or not self.trusted_networks:
            return False
        try:
            address = ipaddress.ip_address(peer_ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted_networks)

    def authenticate(self, username: bytes, password: bytes) -> str | None:
        """The access key id for a valid pair, else None. Neither value is ever logged."""
        return self.credentials.check(username, password)

    # --- sends ----------------------------------------------------------------------------

    async def submit(self, request: SendRequest) -> str:
        """The SMTP reply for ``request``: ``250 Ok <id>``, SES's refusal, or a 451."""
        task = asyncio.get_running_loop().create_task(self.app.sender.send(request))
        self._sends.add(task)
        task.add_done_callback(self._settled)
        try:
            message_id = await asyncio.shield(task)
        except SesError as error:
            return error.smtp_reply
        except asyncio.CancelledError:
            raise
        except Exception:
            # Already logged by _settled; the client may retry, and the server goes on.
            return replies.TEMPORARY_FAILURE
        return replies.accepted(message_id)

    def _settled(self, task: asyncio.Task[str]) -> None:
        self._sends.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved when nobody awaits it any more
        if error is not None and not isinstance(error, SesError):
            log.error("SMTP submission failed", exc_info=error)

    @property
    def sends_in_flight(self) -> int:
        return len(self._sends)

    async def drain(self, timeout: float) -> None:
        """Wait until every send already started is recorded (or refused)."""
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=timeout)
