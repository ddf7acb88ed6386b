"""Content scanners for the `ContentScanner` port (`sendtrail.core.assembly.scan`).

- `EicarScanner`: built in, no daemon. Finds the EICAR test file the way mail scanners do:
  anywhere in the message, in every decoded MIME part (base64, quoted-printable,
  uuencode), in attached messages, and inside zip attachments, nested a few levels deep.
  It is what tests and demos need to exercise the "accepted but not sent" path.
- `ClamdScanner`: a real ClamAV daemon over its socket protocol (`zINSTREAM`), Unix
  socket or TCP. ClamAV itself decodes MIME and unpacks archives.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import io
import socket
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from sendtrail.core.assembly.scan import CLEAN, ScannerUnavailable, ScanVerdict

# The standard 68-byte EICAR test file (eicar.org).
EICAR: Final = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE: Final = "Eicar-Test-Signature"  # ClamAV's traditional name for it
LIMITS_EXCEEDED_SIGNATURE: Final = "Heuristics.Limits.Exceeded"  # ClamAV's name too

_ZIP_MAGIC: Final = b"PK\x03\x04"


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on unpacking, against zip bombs. The defaults are far above any real
    attachment (SES messages are at most 40 MB) and far below what a bomb expands to."""

    max_depth: int = 3  # a zip in a zip in a zip
    max_members: int = 1_000  # over all archives of one message
    max_member_bytes: int = 25 * 1024 * 1024
    max_total_bytes: int = 100 * 1024 * 1024  # everything unpacked for one message


class _LimitExceeded(Exception):
    pass


class EicarScanner:
    """Finds the EICAR test signature. An archive that goes past `limits` is not
    unpacked further (ClamAV's default); with `flag_exceeded_limits` such a message is
    reported infected instead of clean (ClamAV's AlertExceedsMax)."""

    def __init__(
        self, *, limits: ArchiveLimits | None = None, flag_exceeded_limits: bool = False
    ) -> None:
        self._limits = limits or ArchiveLimits()
        self._flag_exceeded_limits = flag_exceeded_limits

    async def scan(self, raw: bytes) -> ScanVerdict:
        # Decoding and unzipping is CPU work: keep it off the event loop.
        return await asyncio.to_thread(self.scan_sync, raw)

    def scan_sync(self, raw: bytes) -> ScanVerdict:
        budget = _Budget(self._limits)
        exceeded = False
        for blob in _message_blobs(raw):
            if EICAR in blob:
                return ScanVerdict(infected=True, signature=EICAR_SIGNATURE)
            try:
                if self._in_archive(blob, budget, depth=1):
                    return ScanVerdict(infected=True, signature=EICAR_SIGNATURE)
            except _LimitExceeded:
                # Give up on this archive only: a bomb in one attachment must not hide
                # what another one carries.
                exceeded = True
        if exceeded and self._flag_exceeded_limits:
            return ScanVerdict(infected=True, signature=LIMITS_EXCEEDED_SIGNATURE)
        return CLEAN

    def _in_archive(self, blob: bytes, budget: _Budget, depth: int) -> bool:
        if not blob.startswith(_ZIP_MAGIC) or depth > self._limits.max_depth:
            return False
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
        except (zipfile.BadZipFile, ValueError, OSError):
            return False  # not a readable zip: its bytes were scanned as they are
        with archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                data = _read_member(archive, member, budget)
                if data is None:
                    continue
                if EICAR in data or self._in_archive(data, budget, depth + 1):
                    return True
        return False


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total_bytes = 0

    def take_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _LimitExceeded("too many archive members")

    def take_bytes(self, count: int) -> None:
        self.total_bytes += count
        if self.total_bytes > self.limits.max_total_bytes:
            raise _LimitExceeded("too much unpacked data")


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget
) -> bytes | None:
    budget.take_member()
    cap = budget.limits.max_member_bytes
    try:
        # Read at most one byte past the cap: the declared size may lie, this cannot.
        with archive.open(member) as stream:
            data = stream.read(cap + 1)
    except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
        return None  # encrypted, damaged or an unsupported compression method
    if len(data) > cap:
        raise _LimitExceeded(f"member {member.filename!r} unpacks to over {cap} bytes")
    budget.take_bytes(len(data))
    return data


def _message_blobs(raw: bytes) -> Iterator[bytes]:
    """The message as sent, then each leaf part decoded from its transfer encoding
    (attached messages included: `walk` descends into message/rfc822)."""
    yield raw
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    for part in message.walk():
        if part.is_multipart():
            continue
        decoded = part.get_payload(decode=True)
        if isinstance(decoded, bytes):
            yield decoded


class ClamdScanner:
    """ClamAV's clamd over a Unix socket (`unix_socket`) or TCP (`host`, `port`).

    The stream is sent with `zINSTREAM` in length-prefixed chunks and ends with a
    zero-length chunk; clamd answers `stream: OK`, `stream: <name> FOUND` or
    `<reason> ERROR` (for instance when the message is over its StreamMaxLength)."""

    def __init__(
        self,
        *,
        unix_socket: str | None = None,
        host: str | None = None,
        port: int = 3310,
        timeout: float = 30.0,
        chunk_bytes: int = 64 * 1024,
    ) -> None:
        if (unix_socket is None) == (host is None):
            raise ValueError("give either unix_socket or host")
        self._unix_socket = unix_socket
        self._host = host
        self._port = port
        self._timeout = timeout
        self._chunk_bytes = chunk_bytes

    @classmethod
    def from_address(cls, address: str, *, timeout: float = 30.0) -> ClamdScanner:
        """`unix:/run/clamav/clamd.ctl` or `tcp://127.0.0.1:3310` (clamd's usual places)."""
        if address.startswith("unix:"):
            return cls(unix_socket=address.removeprefix("unix:"), timeout=timeout)
        if address.startswith("tcp://"):
            host, _, port = address.removeprefix("tcp://").rpartition(":")
            return cls(host=host.strip("[]"), port=int(port), timeout=timeout)
        raise ValueError(f"not a clamd address: {address!r}")

    async def scan(self, raw: bytes) -> ScanVerdict:
        reply = await self._exchange(b"zINSTREAM\0", raw)
        return parse_instream_reply(reply)

    async def ping(self) -> bool:
        try:
            return await self._exchange(b"zPING\0") == "PONG"
        except ScannerUnavailable:
            return False

    async def version(self) -> str:
        return await self._exchange(b"zVERSION\0")

    async def _exchange(self, command: bytes, stream: bytes | None = None) -> str:
        try:
            return await asyncio.wait_for(self._talk(command, stream), self._timeout)
        except TimeoutError:
            raise ScannerUnavailable(f"clamd did not answer within {self._timeout} s") from None
        except OSError as exc:
            raise ScannerUnavailable(f"clamd unreachable: {exc}") from exc

    async def _talk(self, command: bytes, stream: bytes | None) -> str:
        # Plain non-blocking sockets rather than asyncio streams: when clamd refuses a
        # stream it replies and hangs up mid-upload, and a stream transport drops the
        # unread reply as soon as a write fails. A socket still returns it.
        loop = asyncio.get_running_loop()
        sock = await self._connect(loop)
        try:
            try:
                await loop.sock_sendall(sock, command)
                if stream is not None:
                    await self._send_chunks(loop, sock, stream)
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd hung up (a stream over its limit): its reply says why
            return await self._read_reply(loop, sock)
        finally:
            sock.close()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        if self._unix_socket is not None:
            targets = [(socket.AF_UNIX, socket.SOCK_STREAM, 0, self._unix_socket)]
        else:
            infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
            targets = [(family, kind, proto, address) for family, kind, proto, _, address in infos]
        error: OSError = OSError(f"no address for {self._host}")
        for family, kind, proto, address in targets:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise error

    async def _send_chunks(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, stream: bytes
    ) -> None:
        view = memoryview(stream)
        for start in range(0, len(stream), self._chunk_bytes):
            chunk = view[start : start + self._chunk_bytes]
            await loop.sock_sendall(sock, struct.pack(">I", len(chunk)) + chunk)
        await loop.sock_sendall(sock, struct.pack(">I", 0))

    @staticmethod
    async def _read_reply(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> str:
        """Up to the NUL that ends a z-command's reply, or whatever came before EOF."""
        reply = b""
        while not reply.endswith(b"\0"):
            try:
                data = await loop.sock_recv(sock, 4096)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            reply += data
        if not reply:
            raise ScannerUnavailable("clamd closed the connection without a reply")
        return reply.rstrip(b"\0\n").decode("utf-8", "replace")


def parse_instream_reply(reply: str) -> ScanVerdict:
    """`stream: OK` -> clean; `stream: Name FOUND` -> infected with Name; anything else
    (`... ERROR`) -> `ScannerUnavailable`."""
    text = reply.strip()
    _, _, result = text.partition(": ") if text.startswith("stream:") else ("", "", text)
    if result == "OK":
        return CLEAN
    if result.endswith(" FOUND"):
        return ScanVerdict(infected=True, signature=result.removesuffix(" FOUND"))
    raise ScannerUnavailable(f"clamd: {text}")
