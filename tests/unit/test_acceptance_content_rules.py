"""Raw message rules: size, lines, header block, duplicates, recipients, MIME, attachments."""

from __future__ import annotations

import pytest

from sendtrail.core.acceptance.content_rules import (
    MAX_MESSAGE_BYTES,
    SINGLE_OCCURRENCE_HEADERS,
    UNSUPPORTED_ATTACHMENT_EXTENSIONS,
    RawMessageFacts,
    Surface,
    check_message_size,
    check_recipient_count,
    inspect_raw_message,
)
from sendtrail.core.acceptance.errors import Condition, SesError


def message(*headers: str, body: str = "Hello.\r\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


SIMPLE = message("From: Sender <sender@example.com>", "To: a@example.org", "Subject: Hi")


def accepted(raw: bytes, **kwargs: object) -> RawMessageFacts:
    return inspect_raw_message(raw, surface=Surface.V2_API, **kwargs)  # type: ignore[arg-type]


def rejected(raw: bytes, surface: Surface = Surface.V2_API, **kwargs: object) -> SesError:
    with pytest.raises(SesError) as caught:
        inspect_raw_message(raw, surface=surface, **kwargs)  # type: ignore[arg-type]
    return caught.value


def multipart(filename: str) -> bytes:
    return message(
        "From: sender@example.com",
        "To: a@example.org",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=(
            "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b1--\r\n"
        ),
    )


def test_a_well_formed_message_yields_its_facts() -> None:
    # Given a simple raw message
    # When it is inspected
    facts = accepted(SIMPLE)
    # Then its sender, recipients and headers are reported
    assert [a.original for a in facts.from_addresses] == ["Sender <sender@example.com>"]
    assert [r.address for r in facts.recipients] == ["a@example.org"]
    assert facts.header_values("subject") == ["Hi"]
    assert facts.size == len(SIMPLE)
    assert facts.attachment_filenames == ()


def test_size_limits_differ_by_surface() -> None:
    assert MAX_MESSAGE_BYTES[Surface.V1_API] == 10_485_760
    assert MAX_MESSAGE_BYTES[Surface.V2_API] == 41_943_040
    assert MAX_MESSAGE_BYTES[Surface.SMTP] == 41_943_040


def test_v1_message_over_10mb_gets_ses_length_text() -> None:
    # Given a v1 message one byte over 10 MB
    with pytest.raises(SesError) as caught:
        check_message_size(10_485_761, Surface.V1_API)
    # Then SES's v1 text, and over SMTP the 552 reply
    assert caught.value.message == "Message length is more than 10485760 bytes long: '10485761'."
    assert caught.value.code == "InvalidParameterValue"
    assert caught.value.smtp_reply == "552 Message is too long."


def test_size_is_checked_on_the_whole_raw_message_first() -> None:
    # Given a v1 message just over the limit (the padding alone breaks other rules too)
    raw = SIMPLE + b"x" * (10_485_761 - len(SIMPLE))
    # Then the size is what is reported
    error = rejected(raw, surface=Surface.V1_API)
    assert error.condition is Condition.MESSAGE_TOO_LONG
    # And the same size is fine on v2 and SMTP
    check_message_size(len(raw), Surface.V2_API)
    check_message_size(len(raw), Surface.SMTP)


def test_lines_of_998_characters_pass_and_999_fail() -> None:
    # RFC 5321: 1,000 characters including the CRLF
    accepted(message("From: s@example.com", "To: a@example.org", body="x" * 998 + "\r\n"))
    error = rejected(message("From: s@example.com", "To: a@example.org", body="y" * 999 + "\r\n"))
    assert error.condition is Condition.LINE_TOO_LONG
    assert error.code == "InvalidParameterValue"


def test_header_and_body_must_be_separated_by_a_blank_line() -> None:
    # Given body text straight after the headers
    raw = b"From: s@example.com\r\nTo: a@example.org\r\nHello there\r\n"
    # Then the message is refused
    assert rejected(raw).condition is Condition.MISSING_HEADER_SEPARATOR
    # And a message that never ends its header block is refused too
    assert rejected(b"From: s@example.com\r\nTo: a@example.org").condition is (
        Condition.MISSING_HEADER_SEPARATOR
    )


def test_bare_lf_line_endings_are_accepted() -> None:
    facts = accepted(b"From: s@example.com\nTo: a@example.org\n\nHi\n")
    assert [r.address for r in facts.recipients] == ["a@example.org"]


@pytest.mark.parametrize(
    "name", ["Content-Type", "MIME-Version", "DKIM-Signature", "Subject", "Message-ID"]
)
def test_duplicate_single_occurrence_header_uses_ses_text(name: str) -> None:
    # Given a header from SES's at-most-once list, twice, in another case the second time
    raw = message(
        "From: s@example.com", "To: a@example.org", f"{name}: one", f"{name.upper()}: two"
    )
    # When inspected
    error = rejected(raw)
    # Then SES's duplicate text names the header as written
    assert error.message == f"Duplicate header '{name.upper()}'."
    assert error.smtp_reply == f"554 Transaction failed: Duplicate header '{name.upper()}'."


def test_repeatable_headers_may_repeat() -> None:
    raw = message(
        "From: s@example.com",
        "To: a@example.org",
        "To: b@example.org",
        "Received: one",
        "Received: two",
        "X-Custom: 1",
        "X-Custom: 2",
    )
    assert [r.address for r in accepted(raw).recipients] == ["a@example.org", "b@example.org"]


def test_single_occurrence_list_is_the_dg_list() -> None:
    assert len(SINGLE_OCCURRENCE_HEADERS) == 59
    assert {"from", "reply-to", "dkim-signature", "acceptlanguage", "vbr-info"} <= (
        SINGLE_OCCURRENCE_HEADERS
    )
    assert "to" not in SINGLE_OCCURRENCE_HEADERS


def test_from_header_is_required_without_an_envelope_sender() -> None:
    raw = message("To: a@example.org", "Subject: Hi")
    error = rejected(raw)
    assert error.condition is Condition.MISSING_REQUIRED_HEADER
    assert error.message == "Missing required header 'From'."
    # The v1 Source parameter (or SMTP MAIL FROM) makes it optional
    assert accepted(raw, envelope_from="sender@example.com").from_addresses == ()


def test_recipients_come_from_to_cc_bcc_including_groups() -> None:
    raw = message(
        "From: s@example.com",
        "To: a@example.org, Team: b@example.org, c@example.org;",
        "Cc: d@example.org",
        "Bcc: e@example.org",
    )
    facts = accepted(raw)
    assert [r.address for r in facts.recipients] == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
        "e@example.org",
    ]


def test_envelope_recipients_replace_header_recipients() -> None:
    facts = accepted(SIMPLE, envelope_recipients=["x@example.net", "y@example.net"])
    assert [r.address for r in facts.recipients] == ["x@example.net", "y@example.net"]
    assert [r.address for r in facts.header_recipients] == ["a@example.org"]


def test_malformed_header_address_fails_even_with_an_envelope() -> None:
    raw = message("From: s@example.com", "To: a@example.org;")
    error = rejected(raw, envelope_recipients=["a@example.org"])
    assert error.smtp_reply == "554 Transaction failed: Illegal semicolon, not in group"


def test_more_than_50_recipients_is_refused() -> None:
    to = ", ".join(f"r{i}@example.org" for i in range(51))
    error = rejected(message("From: s@example.com", f"To: {to}"))
    assert error.message == "Recipient count exceeds 50."
    assert error.smtp_reply == "554 Transaction failed: Recipient count exceeds 50."


def test_exactly_50_recipients_across_to_cc_bcc_pass() -> None:
    to = ", ".join(f"t{i}@example.org" for i in range(20))
    cc = ", ".join(f"c{i}@example.org" for i in range(20))
    bcc = ", ".join(f"b{i}@example.org" for i in range(10))
    facts = accepted(message("From: s@example.com", f"To: {to}", f"Cc: {cc}", f"Bcc: {bcc}"))
    assert len(facts.recipients) == 50


def test_no_recipient_is_refused() -> None:
    error = rejected(message("From: s@example.com", "To: undisclosed-recipients:;"))
    assert error.condition is Condition.NO_RECIPIENTS
    with pytest.raises(SesError):
        check_recipient_count(0)
    check_recipient_count(1)


def test_non_ascii_header_address_is_refused() -> None:
    raw = message("From: s@example.com", "To: Jürgen <j@example.org>")
    assert rejected(raw).message == "There are non-ASCII characters in the email address"


def test_encoded_word_display_names_and_utf8_subjects_pass() -> None:
    raw = message(
        "From: s@example.com", "To: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>", "Subject: Café"
    )
    facts = accepted(raw)
    assert facts.recipients[0].display_name == "Jürgen"


def test_sender_return_path_and_reply_to_are_parsed() -> None:
    raw = message(
        "From: s@example.com",
        "Sender: Agent <agent@example.com>",
        "Return-Path: <bounces@example.com>",
        "Reply-To: help@example.com, sales@example.com",
        "To: a@example.org",
    )
    facts = accepted(raw)
    assert facts.sender is not None and facts.sender.original == "Agent <agent@example.com>"
    assert facts.return_path is not None and facts.return_path.address == "bounces@example.com"
    assert [a.address for a in facts.reply_to] == ["help@example.com", "sales@example.com"]
    null_path = message("From: s@example.com", "Return-Path: <>", "To: a@example.org")
    assert accepted(null_path).return_path is None


@pytest.mark.parametrize("filename", ["Invoice.EXE", "setup.msi", "script.ps1", "x.tar.vbs"])
def test_unsupported_attachment_extensions_are_refused(filename: str) -> None:
    error = rejected(multipart(filename))
    assert error.condition is Condition.UNSUPPORTED_ATTACHMENT
    assert error.message == f"Illegal filename '{filename}'."


@pytest.mark.parametrize("filename", ["report.pdf", "photo.JPG", "exe", "archive.zip", "notes"])
def test_other_attachments_pass(filename: str) -> None:
    assert accepted(multipart(filename)).attachment_filenames == (filename,)


def test_attachment_names_in_content_type_and_rfc2231_are_checked() -> None:
    raw = message(
        "From: s@example.com",
        "To: a@example.org",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=(
            "--b1\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
            '--b1\r\nContent-Type: application/octet-stream; name="tool.bat"\r\n\r\nx\r\n'
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.scr\r\n\r\n"
            "x\r\n--b1--\r\n"
        ),
    )
    assert rejected(raw).message == "Illegal filename 'tool.bat'."
    raw_2231 = raw.replace(b'name="tool.bat"', b'name="tool.txt"')
    assert rejected(raw_2231).message == "Illegal filename 'résumé.scr'."


def test_the_unsupported_list_is_the_dg_list() -> None:
    assert len(UNSUPPORTED_ATTACHMENT_EXTENSIONS) == 90
    assert {"exe", "js", "vbs", "ps1", "msh2xml", "vsmacros", "xnk"} <= (
        UNSUPPORTED_ATTACHMENT_EXTENSIONS
    )
    assert "zip" not in UNSUPPORTED_ATTACHMENT_EXTENSIONS


def test_multipart_without_its_boundary_is_refused() -> None:
    raw = message(
        "From: s@example.com",
        "To: a@example.org",
        'Content-Type: multipart/mixed; boundary="b1"',
        body="Content-Type: text/plain\r\n\r\nno boundary anywhere\r\n",
    )
    error = rejected(raw)
    assert error.condition is Condition.MALFORMED_MULTIPART
    assert error.message == "Missing start boundary"


def test_multipart_missing_only_its_closing_boundary_is_accepted() -> None:
    raw = multipart("report.pdf").replace(b"--b1--\r\n", b"")
    assert accepted(raw).attachment_filenames == ("report.pdf",)
