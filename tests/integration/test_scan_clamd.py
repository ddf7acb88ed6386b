"""`ClamdScanner` against a real ClamAV daemon.

How to run: install ClamAV's daemon (Debian/Ubuntu: `apt-get install clamav-daemon`), then
`.venv/bin/python -m pytest tests/integration/test_scan_clamd.py`. Nothing else is needed:
the tests start their own `clamd` with a temporary configuration, on a temporary Unix
socket and a free loopback TCP port, with a signature database they write themselves
(an EICAR signature and a custom one), so there are no freshclam downloads, no system
daemon and no network beyond 127.0.0.1; the daemon is stopped afterwards. Without a
`clamd` binary the daemon tests are skipped; the reply-parsing tests always run.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sendtrail.adapters.scanners import EICAR, ClamdScanner, parse_instream_reply
from sendtrail.core.assembly import (
    CLEAN,
    Attachment,
    Content,
    ScannerUnavailable,
    ScanVerdict,
    SimpleMessage,
    build_simple,
)

# clamd marks signatures from an unsigned local database as UNOFFICIAL.
EICAR_FOUND = ScanVerdict(infected=True, signature="Sendtrail.Test.Eicar.UNOFFICIAL")
MARKER = b"SENDTRAIL-CUSTOM-TEST-SIGNATURE-7f3a"
MARKER_FOUND = ScanVerdict(infected=True, signature="Sendtrail.Test.Marker.UNOFFICIAL")
STREAM_MAX_BYTES = 1024 * 1024
START_TIMEOUT_SECONDS = 15.0


def find_clamd() -> str | None:
    # /usr/sbin is often missing from a non-root PATH.
    return shutil.which("clamd") or next(
        (path for path in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(path, os.X_OK)),
        None,
    )


@dataclass(frozen=True)
class Clamd:
    unix_socket: str
    tcp_port: int

    def unix_scanner(self, **options: float) -> ClamdScanner:
        return ClamdScanner(unix_socket=self.unix_socket, **options)  # type: ignore[arg-type]

    def tcp_scanner(self) -> ClamdScanner:
        return ClamdScanner.from_address(f"tcp://127.0.0.1:{self.tcp_port}")


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_signatures(database: Path) -> None:
    # .ndb body signatures: Name:TargetType(0 = any file):Offset(* = anywhere):hex bytes.
    database.mkdir()
    (database / "sendtrail-test.ndb").write_text(
        f"Sendtrail.Test.Eicar:0:*:{EICAR.hex()}\nSendtrail.Test.Marker:0:*:{MARKER.hex()}\n"
    )


@pytest.fixture(scope="module")
def clamd() -> Iterator[Clamd]:
    binary = find_clamd()
    if binary is None:
        pytest.skip("clamd not installed (Debian/Ubuntu: apt-get install clamav-daemon)")
    # A short path: Unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="clamd-") as temporary:
        root = Path(temporary)
        write_signatures(root / "db")
        config = root / "clamd.conf"
        clamd = Clamd(unix_socket=str(root / "clamd.sock"), tcp_port=free_loopback_port())
        config.write_text(
            f"LocalSocket {clamd.unix_socket}\n"
            f"TCPSocket {clamd.tcp_port}\n"
            "TCPAddr 127.0.0.1\n"
            f"DatabaseDirectory {root / 'db'}\n"
            f"TemporaryDirectory {root}\n"
            f"LogFile {root / 'clamd.log'}\n"
            f"StreamMaxLength {STREAM_MAX_BYTES}\n"
            "Foreground yes\n"
        )
        with (root / "output.log").open("wb") as output:
            process = subprocess.Popen(
                [binary, "--config-file", str(config)], stdout=output, stderr=output
            )
        try:
            wait_until_ready(clamd, process, root)
            yield clamd
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(clamd: Clamd, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    scanner = clamd.unix_scanner(timeout=1.0)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if Path(clamd.unix_socket).exists() and asyncio.run(scanner.ping()):
            return
        time.sleep(0.05)
    logs = "".join(
        path.read_text(errors="replace")
        for path in (root / "output.log", root / "clamd.log")
        if path.exists()
    )
    pytest.fail(f"clamd did not start (exit code {process.poll()}):\n{logs}")


def scan(scanner: ClamdScanner, raw: bytes) -> ScanVerdict:
    return asyncio.run(scanner.scan(raw))


def message(text: str = "Hello", *attachments: Attachment) -> bytes:
    return build_simple(
        SimpleMessage(
            from_address="sender@example.com",
            to=("a@example.org",),
            subject=Content("Report"),
            text=Content(text),
            attachments=attachments,
        )
    )


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


# --- against clamd -------------------------------------------------------------------------


def test_clamd_answers_ping_and_version(clamd: Clamd) -> None:
    scanner = clamd.unix_scanner()
    assert asyncio.run(scanner.ping())
    assert asyncio.run(scanner.version()).startswith("ClamAV")


def test_a_clean_message_passes(clamd: Clamd) -> None:
    raw = message("Nothing here", Attachment(raw_content=b"%PDF-1.4", file_name="a.pdf"))
    assert scan(clamd.unix_scanner(), raw) == CLEAN


def test_eicar_inline_is_found(clamd: Clamd) -> None:
    assert scan(clamd.unix_scanner(), message(EICAR.decode("ascii"))) == EICAR_FOUND


def test_eicar_in_a_base64_attachment_is_found(clamd: Clamd) -> None:
    raw = message("Attached", Attachment(raw_content=EICAR, file_name="eicar.bin"))
    assert EICAR not in raw
    assert scan(clamd.unix_scanner(), raw) == EICAR_FOUND


def test_eicar_in_a_zip_attachment_is_found(clamd: Clamd) -> None:
    archive = zipped("eicar.com", EICAR)
    raw = message("Zipped", Attachment(raw_content=archive, file_name="files.zip"))
    assert scan(clamd.unix_scanner(), raw) == EICAR_FOUND


def test_a_custom_signature_is_reported_by_name(clamd: Clamd) -> None:
    raw = message("Attached", Attachment(raw_content=b"xx" + MARKER + b"yy", file_name="m.bin"))
    assert scan(clamd.unix_scanner(), raw) == MARKER_FOUND


def test_tcp_works_like_the_unix_socket(clamd: Clamd) -> None:
    scanner = clamd.tcp_scanner()
    assert scan(scanner, message()) == CLEAN
    raw = message("Zipped", Attachment(raw_content=zipped("e.com", EICAR), file_name="z.zip"))
    assert scan(scanner, raw) == EICAR_FOUND


def test_small_chunks_reassemble(clamd: Clamd) -> None:
    raw = message("Attached", Attachment(raw_content=EICAR, file_name="eicar.bin"))
    assert scan(clamd.unix_scanner(chunk_bytes=7), raw) == EICAR_FOUND


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_stream_over_clamds_limit_is_no_verdict(clamd: Clamd, transport: str) -> None:
    """clamd replies and hangs up mid-upload; its reason must still come through."""
    scanner = clamd.unix_scanner() if transport == "unix" else clamd.tcp_scanner()
    big = message("Big", Attachment(raw_content=os.urandom(STREAM_MAX_BYTES), file_name="b.bin"))
    with pytest.raises(ScannerUnavailable, match="size limit exceeded"):
        scan(scanner, big)


def test_concurrent_scans(clamd: Clamd) -> None:
    scanner = clamd.unix_scanner()
    clean, infected = message(), message(EICAR.decode("ascii"))

    async def both() -> list[ScanVerdict]:
        return list(await asyncio.gather(*(scanner.scan(m) for m in [clean, infected] * 5)))

    assert asyncio.run(both()) == [CLEAN, EICAR_FOUND] * 5


# --- without clamd -------------------------------------------------------------------------


def test_an_absent_daemon_is_scanner_unavailable(tmp_path: Path) -> None:
    scanner = ClamdScanner(unix_socket=str(tmp_path / "absent.sock"), timeout=2.0)
    with pytest.raises(ScannerUnavailable, match="unreachable"):
        scan(scanner, message())
    assert asyncio.run(scanner.ping()) is False


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("stream: OK", CLEAN),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", ScanVerdict(True, "Win.Test.EICAR_HDB-1")),
        (
            "stream: Eicar Signature With Spaces FOUND",
            ScanVerdict(True, "Eicar Signature With Spaces"),
        ),
    ],
)
def test_instream_replies(reply: str, verdict: ScanVerdict) -> None:
    assert parse_instream_reply(reply) == verdict


@pytest.mark.parametrize("reply", ["INSTREAM size limit exceeded. ERROR", "UNKNOWN COMMAND", ""])
def test_other_replies_are_no_verdict(reply: str) -> None:
    with pytest.raises(ScannerUnavailable):
        parse_instream_reply(reply)


@pytest.mark.parametrize("address", ["clamd.sock", "tcp://127.0.0.1", "http://127.0.0.1:3310"])
def test_addresses_say_unix_or_tcp(address: str) -> None:
    with pytest.raises(ValueError):
        ClamdScanner.from_address(address)
