"""The built-in EICAR scanner: wherever mail scanners look, and not past its limits."""

from __future__ import annotations

import asyncio
import base64
import io
import quopri
import zipfile

import pytest

from sendtrail.adapters.scanners import (
    EICAR,
    EICAR_SIGNATURE,
    LIMITS_EXCEEDED_SIGNATURE,
    ArchiveLimits,
    EicarScanner,
)
from sendtrail.core.assembly import (
    CLEAN,
    Attachment,
    Content,
    ContentScanner,
    ScanVerdict,
    SimpleMessage,
    TransferEncoding,
    build_simple,
)

FOUND = ScanVerdict(infected=True, signature=EICAR_SIGNATURE)


def scan(raw: bytes, scanner: ContentScanner | None = None) -> ScanVerdict:
    return asyncio.run((scanner or EicarScanner()).scan(raw))


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


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_it_is_a_content_scanner() -> None:
    scanner: ContentScanner = EicarScanner()
    assert scanner is not None


def test_a_clean_message_passes() -> None:
    raw = message(
        "Nothing to see",
        Attachment(raw_content=b"%PDF-1.4 harmless", file_name="a.pdf"),
        Attachment(raw_content=zipped({"notes.txt": b"just notes"}), file_name="n.zip"),
    )
    assert scan(raw) == CLEAN


def test_eicar_inline_in_the_body_is_found() -> None:
    assert scan(message("Test file follows:\n" + EICAR.decode("ascii"))) == FOUND


def test_eicar_in_a_base64_attachment_is_found() -> None:
    raw = message("See attached", Attachment(raw_content=EICAR, file_name="eicar.com.txt"))
    assert EICAR not in raw  # only the base64 form is in the message
    assert scan(raw) == FOUND


def test_eicar_in_a_quoted_printable_part_is_found() -> None:
    # Every byte as =XX, in lines joined by soft line breaks: legal QP, nothing literal.
    hex_bytes = [f"={byte:02X}".encode() for byte in EICAR]
    encoded = b"=\r\n".join(b"".join(hex_bytes[i : i + 24]) for i in range(0, len(EICAR), 24))
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")) == EICAR
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + encoded
        + b"\r\n"
    )
    assert scan(raw) == FOUND


def test_eicar_in_a_zip_attachment_is_found() -> None:
    archive = zipped({"readme.txt": b"hello", "eicar.com": EICAR})
    raw = message("Zip attached", Attachment(raw_content=archive, file_name="files.zip"))
    assert scan(raw) == FOUND


def test_eicar_in_a_zip_inside_a_zip_is_found() -> None:
    inner = zipped({"eicar.com": EICAR})
    outer = zipped({"inner.zip": inner})
    raw = message("Nested", Attachment(raw_content=outer, file_name="outer.zip"))
    assert scan(raw) == FOUND


def test_nesting_deeper_than_the_limit_is_not_unpacked() -> None:
    archive = EICAR
    for level in range(4):
        archive = zipped({f"level{level}.zip" if level else "eicar.com": archive})
    raw = message("Deep", Attachment(raw_content=archive, file_name="deep.zip"))
    assert scan(raw, EicarScanner(limits=ArchiveLimits(max_depth=3))) == CLEAN
    assert scan(raw, EicarScanner(limits=ArchiveLimits(max_depth=4))) == FOUND


def test_eicar_in_an_attached_message_is_found() -> None:
    inner = message("Forwarded", Attachment(raw_content=EICAR, file_name="e.bin"))
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee the forwarded message\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n"
    )
    assert scan(raw) == FOUND


def test_a_zip_bomb_is_not_unpacked_past_its_limits() -> None:
    # 30 MB of zeros deflates to a few tens of kilobytes; EICAR after it is never reached.
    bomb = zipped({"zeros.bin": bytes(30 * 1024 * 1024), "eicar.com": EICAR})
    assert len(bomb) < 100 * 1024
    raw = message("Bomb", Attachment(raw_content=bomb, file_name="bomb.zip"))
    limits = ArchiveLimits(max_member_bytes=1024 * 1024)
    assert scan(raw, EicarScanner(limits=limits)) == CLEAN
    flagged = scan(raw, EicarScanner(limits=limits, flag_exceeded_limits=True))
    assert flagged == ScanVerdict(infected=True, signature=LIMITS_EXCEEDED_SIGNATURE)


def test_a_bomb_in_one_attachment_does_not_hide_another() -> None:
    bomb = zipped({"zeros.bin": bytes(2 * 1024 * 1024)})
    raw = message(
        "Two",
        Attachment(raw_content=bomb, file_name="bomb.zip"),
        Attachment(raw_content=zipped({"e.com": EICAR}), file_name="eicar.zip"),
    )
    limits = ArchiveLimits(max_member_bytes=1024 * 1024)
    assert scan(raw, EicarScanner(limits=limits, flag_exceeded_limits=True)) == FOUND


@pytest.mark.parametrize(
    "limits",
    [ArchiveLimits(max_members=5), ArchiveLimits(max_total_bytes=5 * 68)],
)
def test_member_count_and_total_size_are_bounded(limits: ArchiveLimits) -> None:
    archive = zipped({f"file{n}.txt": b"x" * 68 for n in range(10)} | {"z.com": EICAR})
    raw = message("Many", Attachment(raw_content=archive, file_name="many.zip"))
    assert scan(raw, EicarScanner(limits=limits, flag_exceeded_limits=True)) == ScanVerdict(
        infected=True, signature=LIMITS_EXCEEDED_SIGNATURE
    )
    assert scan(raw) == FOUND  # within the default limits


def test_a_damaged_zip_is_scanned_as_plain_bytes() -> None:
    broken = b"PK\x03\x04" + b"\x00" * 40
    raw = message("Broken", Attachment(raw_content=broken, file_name="broken.zip"))
    assert scan(raw) == CLEAN


def test_seven_bit_attachment_with_eicar_is_found() -> None:
    raw = message(
        "7bit",
        Attachment(
            raw_content=EICAR,
            file_name="eicar.txt",
            content_transfer_encoding=TransferEncoding.SEVEN_BIT,
        ),
    )
    assert scan(raw) == FOUND


def test_base64_split_over_lines_is_still_found() -> None:
    encoded = base64.encodebytes(b"prefix " + EICAR + b" suffix").replace(b"\n", b"\r\n")
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + encoded
    )
    assert scan(raw) == FOUND
