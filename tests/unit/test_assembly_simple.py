"""`build_simple`: the MIME message of a formatted send."""

from __future__ import annotations

import email
import email.message
import email.policy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sendtrail.core.acceptance import content_rules
from sendtrail.core.acceptance.errors import Condition, SesError
from sendtrail.core.assembly import mime_body
from sendtrail.core.assembly.model import (
    Attachment,
    Content,
    Disposition,
    InvalidContent,
    MessageHeader,
    SimpleMessage,
    TransferEncoding,
)
from sendtrail.core.assembly.simple import build_simple


def simple(**overrides: object) -> SimpleMessage:
    fields: dict[str, object] = {
        "from_address": "Sender <sender@example.com>",
        "to": ("a@example.com",),
        "subject": Content("Hello"),
        "text": Content("Hi there"),
    }
    fields.update(overrides)
    return SimpleMessage(**fields)  # type: ignore[arg-type]


def parse(raw: bytes) -> email.message.EmailMessage:
    # As a mail client reads it: the stdlib parser leaves CRLF inside decoded text.
    message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def text_of(part: email.message.EmailMessage) -> str:
    """Decoded text with LF line ends (base64 and QP bodies carry CRLF, text's canonical
    form on the wire) and without the final line end `set_content` adds."""
    return part.get_content().replace("\r\n", "\n").rstrip("\n")


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]


def assert_wire_safe(raw: bytes) -> None:
    assert raw.isascii(), "7-bit only"
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line endings only"
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_text_only_message_has_sender_headers_and_no_date_or_message_id() -> None:
    raw = build_simple(
        simple(
            to=("a@example.com", "B <b@example.com>"),
            cc=("c@example.com",),
            reply_to=("reply@example.com",),
        )
    )
    assert_wire_safe(raw)
    assert header_names(raw) == [
        "From",
        "Reply-To",
        "To",
        "Cc",
        "Subject",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ]
    message = parse(raw)
    assert message["To"] == "a@example.com, B <b@example.com>"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert text_of(message) == "Hi there"


def test_bcc_is_not_a_field_so_it_can_never_reach_the_headers() -> None:
    assert "bcc" not in SimpleMessage.__struct_fields__
    assert b"Bcc" not in build_simple(simple())


def test_text_and_html_make_a_multipart_alternative_text_first() -> None:
    raw = build_simple(simple(html=Content("<p>Hi <b>there</b></p>")))
    assert_wire_safe(raw)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert text_of(parts[1]) == "<p>Hi <b>there</b></p>"


def test_html_only_is_a_single_part() -> None:
    message = parse(build_simple(simple(text=None, html=Content("<p>x</p>"))))
    assert message.get_content_type() == "text/html"


def test_a_body_with_neither_part_still_makes_a_valid_message() -> None:
    message = parse(build_simple(simple(text=None)))
    assert message.get_content_type() == "text/plain"


def test_non_ascii_subject_becomes_encoded_words_in_the_requested_charset() -> None:
    raw = build_simple(simple(subject=Content("Grüße aus Köln", "ISO-8859-1")))
    assert b"Subject: =?iso-8859-1?q?" in raw
    assert parse(raw)["Subject"] == "Grüße aus Köln"


def test_long_subject_is_folded_within_line_limits() -> None:
    subject = "Sehr geehrte Kundin, sehr geehrter Kunde, Ihre Bestellung Nr. 4711 " * 20
    raw = build_simple(simple(subject=Content(subject + "ü")))
    assert_wire_safe(raw)
    assert parse(raw)["Subject"] == subject + "ü"


def test_one_unbroken_word_longer_than_a_line_is_split_as_encoded_words() -> None:
    raw = build_simple(simple(subject=Content("x" * 1500)))
    assert_wire_safe(raw)
    assert parse(raw)["Subject"] == "x" * 1500


def test_non_ascii_bodies_are_quoted_printable_or_base64_and_decode_back() -> None:
    text = "Grüße\n" + "ünïcödé " * 40 + "\nEnd"
    raw = build_simple(simple(text=Content(text), html=Content("<p>" + "€" * 300 + "</p>")))
    assert_wire_safe(raw)
    parts = list(parse(raw).iter_parts())
    assert parts[0]["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert text_of(parts[0]) == text
    assert text_of(parts[1]) == "<p>" + "€" * 300 + "</p>"


def test_body_charset_is_declared_and_used() -> None:
    raw = build_simple(simple(text=Content("Grüße", "ISO-8859-1")))
    message = parse(raw)
    assert message.get_content_charset() == "iso-8859-1"
    assert message.get_payload(decode=True).rstrip(b"\n") == "Grüße".encode("latin-1")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (Content("日本語", "ISO-8859-1"), "Body.Text.Data"),
        (Content("x", "no-such-charset"), "Body.Text.Charset"),
    ],
)
def test_text_that_its_charset_cannot_carry_is_invalid_content(
    content: Content, field: str
) -> None:
    with pytest.raises(InvalidContent) as caught:
        build_simple(simple(text=content))
    assert caught.value.field == field


def test_subject_charset_that_cannot_carry_it_is_invalid_content() -> None:
    with pytest.raises(InvalidContent):
        build_simple(simple(subject=Content("日本語", "ISO-8859-1")))


def test_non_ascii_display_name_is_encoded_not_sent_raw() -> None:
    raw = build_simple(simple(from_address="Jörg <joerg@example.com>"))
    assert_wire_safe(raw)
    assert parse(raw)["From"] == "Jörg <joerg@example.com>"


def test_many_recipients_are_folded_between_addresses() -> None:
    recipients = tuple(f"recipient{number}@example.com" for number in range(40))
    raw = build_simple(simple(to=recipients))
    to_field = re.search(rb"\r\nTo:(.*?)\r\n(?! )", raw, re.DOTALL)
    assert to_field is not None
    assert all(len(line) <= 78 for line in to_field.group(0).split(b"\r\n"))
    assert parse(raw)["To"] == ", ".join(recipients)


# --- extra headers -------------------------------------------------------------------------


def test_extra_headers_follow_subject_as_given() -> None:
    raw = build_simple(
        simple(headers=(MessageHeader("X-Campaign", "spring"), MessageHeader("List-Id", "<l.x>")))
    )
    names = header_names(raw)
    assert names[names.index("Subject") + 1 : names.index("Subject") + 3] == [
        "X-Campaign",
        "List-Id",
    ]
    assert b"\r\nX-Campaign: spring\r\n" in raw


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        (tuple(MessageHeader(f"X-H{n}", "v") for n in range(16)), "Headers"),
        ((MessageHeader("X:Colon", "v"),), "Headers[0].Name"),
        ((MessageHeader("X-Name", "ünicode"),), "Headers[0].Value"),
        ((MessageHeader("X-Name", "line\r\nBcc: x@y.z"),), "Headers[0].Value"),
        ((MessageHeader("X-Name", ""),), "Headers[0].Value"),
        ((MessageHeader("X-" + "n" * 125, "v"),), "Headers[0].Name"),
        ((MessageHeader("X-" + "n" * 100, "v" * 895),), "Headers[0]"),
    ],
)
def test_extra_headers_outside_the_v2_constraints_are_invalid(
    headers: tuple[MessageHeader, ...], field: str
) -> None:
    with pytest.raises(InvalidContent) as caught:
        build_simple(simple(headers=headers))
    assert caught.value.field == field


def test_fifteen_extra_headers_are_allowed() -> None:
    headers = tuple(MessageHeader(f"X-H{n}", "v") for n in range(15))
    assert b"X-H14: v" in build_simple(simple(headers=headers))


def test_an_extra_header_repeating_a_single_occurrence_one_is_sess_duplicate_error() -> None:
    with pytest.raises(SesError) as caught:
        build_simple(simple(headers=(MessageHeader("Subject", "again"),)))
    assert caught.value.condition is Condition.DUPLICATE_HEADER
    assert caught.value.message == "Duplicate header 'Subject'."


# --- attachments ---------------------------------------------------------------------------


def test_attachments_make_a_multipart_mixed_and_decode_back() -> None:
    pdf = bytes(range(256)) * 40
    raw = build_simple(
        simple(
            html=Content("<p>see attached</p>"),
            attachments=(
                Attachment(raw_content=pdf, file_name="report.pdf"),
                Attachment(
                    raw_content=b"a,b\r\n1,2\r\n",
                    file_name="data.csv",
                    content_type="text/csv; charset=utf-8",
                    content_description="Monthly figures",
                ),
            ),
        )
    )
    assert_wire_safe(raw)
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    body, report, data = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert report.get_content_type() == "application/pdf"  # guessed from the name
    assert report.get_filename() == "report.pdf"
    assert report.get_content_disposition() == "attachment"
    assert report["Content-Transfer-Encoding"] == "base64"
    assert report.get_payload(decode=True) == pdf
    assert data.get_content_type() == "text/csv"
    assert data.get_param("charset") == "utf-8"
    assert data["Content-Description"] == "Monthly figures"
    assert data.get_payload(decode=True) == b"a,b\r\n1,2\r\n"


def test_attachment_parts_start_with_content_type() -> None:
    raw = build_simple(simple(attachments=(Attachment(raw_content=b"x", file_name="a.txt"),)))
    attachment = list(parse(raw).iter_parts())[1]
    assert attachment.keys()[0] == "Content-Type"


def test_unknown_extension_is_octet_stream() -> None:
    raw = build_simple(simple(attachments=(Attachment(raw_content=b"x", file_name="blob.qqq"),)))
    assert list(parse(raw).iter_parts())[1].get_content_type() == "application/octet-stream"


def test_non_ascii_file_name_and_description_survive() -> None:
    raw = build_simple(
        simple(
            attachments=(
                Attachment(
                    raw_content=b"x",
                    file_name="Übersicht 2026.txt",
                    content_description="Jahresübersicht",
                ),
            )
        )
    )
    assert_wire_safe(raw)
    attachment = list(parse(raw).iter_parts())[1]
    assert attachment.get_filename() == "Übersicht 2026.txt"
    assert attachment["Content-Description"] == "Jahresübersicht"


@pytest.mark.parametrize(
    ("encoding", "content", "expected_cte"),
    [
        (TransferEncoding.BASE64, b"plain", "base64"),
        (TransferEncoding.QUOTED_PRINTABLE, "Grüße\r\n".encode(), "quoted-printable"),
        (TransferEncoding.SEVEN_BIT, b"plain ascii\r\nlines\r\n", "7bit"),
        # Not 7-bit content: sending it as 7bit would corrupt it, so it goes as base64.
        (TransferEncoding.SEVEN_BIT, "Grüße".encode(), "base64"),
        (TransferEncoding.SEVEN_BIT, b"x" * 1200, "base64"),
    ],
)
def test_attachment_transfer_encodings(
    encoding: TransferEncoding, content: bytes, expected_cte: str
) -> None:
    raw = build_simple(
        simple(
            attachments=(
                Attachment(
                    raw_content=content, file_name="f.txt", content_transfer_encoding=encoding
                ),
            )
        )
    )
    assert_wire_safe(raw)
    attachment = list(parse(raw).iter_parts())[1]
    assert attachment["Content-Transfer-Encoding"] == expected_cte
    decoded = attachment.get_payload(decode=True)
    # `parse` reads the message with LF line ends, as a mail client stores it; a 7-bit
    # part is lines of text, so its CRLFs become LFs with the rest.
    assert decoded == (content.replace(b"\r\n", b"\n") if expected_cte == "7bit" else content)


def test_inline_parts_with_content_id_go_with_the_html_in_multipart_related() -> None:
    raw = build_simple(
        simple(
            html=Content('<img src="cid:logo">'),
            attachments=(
                Attachment(
                    raw_content=b"\x89PNG\r\n",
                    file_name="logo.png",
                    content_disposition=Disposition.INLINE,
                    content_id="logo",
                ),
                Attachment(raw_content=b"%PDF", file_name="terms.pdf"),
            ),
        )
    )
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    related, terms = message.iter_parts()
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "multipart/alternative"
    alternative, logo = related.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert logo["Content-ID"] == "<logo>"
    assert logo.get_content_disposition() == "inline"
    assert terms.get_filename() == "terms.pdf"


def test_inline_part_without_content_id_is_a_plain_part_of_the_mixed_message() -> None:
    raw = build_simple(
        simple(
            attachments=(
                Attachment(
                    raw_content=b"x", file_name="a.txt", content_disposition=Disposition.INLINE
                ),
            )
        )
    )
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    assert list(message.iter_parts())[1].get_content_disposition() == "inline"


def test_banned_attachment_extension_is_sess_error() -> None:
    with pytest.raises(SesError) as caught:
        build_simple(simple(attachments=(Attachment(raw_content=b"MZ", file_name="setup.exe"),)))
    assert caught.value.condition is Condition.UNSUPPORTED_ATTACHMENT


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        (Attachment(raw_content=b"x", file_name=""), "Attachments[0].FileName"),
        (Attachment(raw_content=b"x", file_name="a" * 256), "Attachments[0].FileName"),
        (Attachment(raw_content=b"x", file_name="a\r\n.txt"), "Attachments[0].FileName"),
        (
            Attachment(raw_content=b"x", file_name="a.txt", content_id="has space"),
            "Attachments[0].ContentId",
        ),
        (
            Attachment(raw_content=b"x", file_name="a.txt", content_type="pdf"),
            "Attachments[0].ContentType",
        ),
        (
            Attachment(raw_content=b"x", file_name="a.txt", content_type="multipart/mixed"),
            "Attachments[0].ContentType",
        ),
        (
            Attachment(raw_content=b"x", file_name="a.txt", content_description="d" * 1001),
            "Attachments[0].ContentDescription",
        ),
    ],
)
def test_attachments_outside_the_v2_constraints_are_invalid(
    attachment: Attachment, field: str
) -> None:
    with pytest.raises(InvalidContent) as caught:
        build_simple(simple(attachments=(attachment,)))
    assert caught.value.field == field


# --- whole-message properties --------------------------------------------------------------


def test_the_built_message_passes_sess_raw_message_rules() -> None:
    raw = build_simple(
        simple(
            cc=("c@example.com",),
            html=Content("<p>x</p>"),
            attachments=(Attachment(raw_content=b"x", file_name="a.txt"),),
        )
    )
    facts = content_rules.inspect_raw_message(raw, surface=content_rules.Surface.V2_API)
    assert [a.address for a in facts.recipients] == ["a@example.com", "c@example.com"]
    assert facts.attachment_filenames == ("a.txt",)


def test_building_is_deterministic() -> None:
    message = simple(
        html=Content("<p>x</p>"), attachments=(Attachment(raw_content=b"x", file_name="a.txt"),)
    )
    assert build_simple(message) == build_simple(message)


def test_a_boundary_never_occurs_inside_a_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the first-choice boundary into a 7-bit attachment: another one is chosen."""

    class FixedDigest:
        def __init__(self, _data: bytes) -> None:
            pass

        def hexdigest(self) -> str:
            return "f" * 64

    monkeypatch.setattr(mime_body.hashlib, "sha256", FixedDigest)
    clash = b"------=_Part_0_" + b"f" * 24 + b"\r\n"
    raw = build_simple(
        simple(
            attachments=(
                Attachment(
                    raw_content=clash,
                    file_name="a.txt",
                    content_transfer_encoding=TransferEncoding.SEVEN_BIT,
                ),
            )
        )
    )
    message = parse(raw)
    assert message.get_boundary() == "----=_Part_0_" + "f" * 24 + ".1"
    assert list(message.iter_parts())[1].get_payload(decode=True) == clash.replace(b"\r", b"")


_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=300)


@settings(max_examples=60, deadline=None)
@given(subject=_TEXT, text=_TEXT, html=_TEXT, attachment=st.binary(max_size=500))
def test_any_content_round_trips_and_stays_wire_safe(
    subject: str, text: str, html: str, attachment: bytes
) -> None:
    raw = build_simple(
        simple(
            subject=Content(subject),
            text=Content(text),
            html=Content(html),
            attachments=(Attachment(raw_content=attachment, file_name="blob.bin"),),
        )
    )
    assert_wire_safe(raw)
    message = parse(raw)
    alternative, blob = message.iter_parts()
    plain, rich = alternative.iter_parts()
    assert text_of(plain) == text.rstrip("\n")
    assert text_of(rich) == html.rstrip("\n")
    assert blob.get_payload(decode=True) == attachment
    # Folding may turn runs of blanks and other whitespace into single spaces.
    assert " ".join(str(message["Subject"]).split()) == " ".join(subject.split())


_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=0, max_size=80)
_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)


@settings(max_examples=80, deadline=None)
@given(
    file_name=_ANY_TEXT,
    description=st.none() | _ANY_TEXT,
    content_id=st.none() | _ANY_TEXT,
    content_type=st.none() | _ANY_TEXT | _ANY_TEXT.map(lambda text: f"text/plain; x={text}"),
    header_value=_PRINTABLE,
    subject=_ANY_TEXT,
)
def test_any_request_is_either_refused_or_built_wire_safe(
    file_name: str,
    description: str | None,
    content_id: str | None,
    content_type: str | None,
    header_value: str,
    subject: str,
) -> None:
    """Whatever the caller passes, no header can be injected and no unsafe byte sent."""
    request = simple(
        subject=Content(subject),
        headers=(MessageHeader("X-Test", header_value),),
        attachments=(
            Attachment(
                raw_content=b"x",
                file_name=file_name,
                content_description=description,
                content_id=content_id,
                content_type=content_type,
            ),
        ),
    )
    try:
        raw = build_simple(request)
    except (InvalidContent, SesError):
        return
    assert_wire_safe(raw)
    names = {name.lower() for name in header_names(raw)}
    assert names == {"from", "to", "subject", "x-test", "mime-version", "content-type"}
    attachment = list(parse(raw).iter_parts())[1]
    assert attachment.get_payload(decode=True) == b"x"
