"""Robust decoding: transport damage, encodings and charsets never stop the classifier."""

from __future__ import annotations

import base64
import quopri

from hypothesis import given, settings
from hypothesis import strategies as st

from sendtrail.core.feedback import classify
from sendtrail.core.feedback.mime import decode_bytes, decode_header, html_to_text, parse

QMAIL_BODY = (
    "Hi. This is the qmail-send program at mx.example.org.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
    "<gone@example.net>:\nRemote host said: 550 5.1.1 <gone@example.net>... User unknown\n"
)


def _bounce(body: bytes, headers: str = "") -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n"
        + headers.encode()
        + b"\n"
        + body
    )


def _verdict(raw: bytes) -> tuple[str, str | None, str | None]:
    report = classify(raw)
    verdict = report.recipients[0]
    return report.kind, verdict.recipient, verdict.status


def test_mbox_from_line_crlf_and_doubled_cr_are_undone() -> None:
    raw = b"From MAILER-DAEMON Thu Apr 29 23:34:45 2026\n" + _bounce(QMAIL_BODY.encode())
    raw = raw.replace(b"\n", b"\r\n").replace(b"User unknown\r\n", b"User unknown\r\r\n")
    assert _verdict(raw) == ("bounce", "gone@example.net", "5.1.1")


def test_quoted_printable_and_base64_bodies() -> None:
    qp = quopri.encodestring(QMAIL_BODY.encode())
    assert _verdict(_bounce(qp, "Content-Transfer-Encoding: quoted-printable\n"))[2] == "5.1.1"
    b64 = base64.encodebytes(QMAIL_BODY.encode())
    assert _verdict(_bounce(b64, "Content-Transfer-Encoding: base64\n"))[2] == "5.1.1"


def test_japanese_and_legacy_charsets() -> None:
    jis = "宛先が見つかりません\n".encode("iso-2022-jp") + QMAIL_BODY.encode()
    assert _verdict(_bounce(jis, "Content-Type: text/plain; charset=iso-2022-jp\n"))[2] == "5.1.1"
    sjis = "宛先が見つかりません\n".encode("shift_jis") + QMAIL_BODY.encode()
    assert _verdict(_bounce(sjis, "Content-Type: text/plain; charset=shift_jis\n"))[2] == "5.1.1"
    euc_labelled_as_jis = "送信できませんでした\n".encode("euc_jp")
    assert decode_bytes(euc_labelled_as_jis, "iso-2022-jp") == "送信できませんでした\n"
    assert decode_bytes("Привет".encode("windows-1251"), "windows-1251") == "Привет"
    assert decode_bytes(b"+AGEAYgBj-", "unicode-1-1-utf-7") == "abc"
    assert decode_bytes("naïve".encode(), "uft-8") == "naïve"


def test_invalid_8bit_bytes_and_unknown_charsets_do_not_raise() -> None:
    body = b"\xff\xfe\x80 broken \xc3(\n" + QMAIL_BODY.encode()
    raw = _bounce(body, "Content-Type: text/plain; charset=x-no-such-charset\n")
    assert _verdict(raw) == ("bounce", "gone@example.net", "5.1.1")
    assert decode_bytes(b"caf\xe9", "us-ascii") == "café"


def test_headers_are_decoded() -> None:
    assert decode_header("=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=") == "テスト"
    assert decode_header("=?utf-8?q?Undeliverable=3A_hi?=") == "Undeliverable: hi"
    assert decode_header("folded\n value") == "folded value"


def test_html_is_flattened_to_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Line&nbsp;one</p><br>two</body>"
    assert html_to_text(html).split() == ["Line", "one", "two"]


def test_broken_multipart_boundary_is_salvaged() -> None:
    raw = (
        b"From: postmaster@example.org\nSubject: Undeliverable: hi\n"
        b'Content-Type: multipart/mixed; boundary="declared"\n\n'
        b"--declared\nContent-Type: multipart/alternative; differences=Content-Type;\n\n"
        b'boundary="actual"\n--actual\nContent-Type: text/plain\n\n'
        b"Delivery has failed to these recipients or groups:\n\nx@example.net\n"
        b"Remote Server returned '550 5.1.10 RecipientNotFound'\n--actual--\n--declared--\n"
    )
    mail = parse(raw)
    assert mail is not None
    assert any("5.1.10" in part.text for part in mail.parts)
    assert _verdict(raw) == ("bounce", "x@example.net", "5.1.10")


def test_garbage_is_unknown() -> None:
    for raw in (b"", b"\x00\x01\x02", b"not a mail at all", bytes(range(256)) * 8):
        report = classify(raw)
        assert report.kind == "unknown"
        assert report.recipients == ()
    assert classify("text, not bytes").kind == "unknown"  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_classify_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert classify(raw).kind in ("bounce", "complaint", "autoreply", "delivered", "unknown")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=1500))
def test_classify_never_raises_on_bounce_shaped_text(body: str) -> None:
    raw = _bounce(("<a@example.net>:\n" + body).encode("utf-8", "surrogatepass"))
    # Whatever the body, a mailer daemon's message is never taken for an auto-reply.
    assert classify(raw).kind not in ("autoreply", "unknown")
