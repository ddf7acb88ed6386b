"""``headers``, ``headersTruncated`` and ``commonHeaders`` from the stored request content."""

from __future__ import annotations

import msgspec

from sendtrail.core.acceptance.requests import (
    Content,
    Destination,
    FormattedMessage,
    RawContent,
    SimpleContent,
    TemplateContent,
)
from sendtrail.core.notifications.headers import (
    MailHeaders,
    decode_request_content,
    header_fields,
    mail_headers,
)


def headers(content: Content | None, template_subject: str | None = None) -> MailHeaders:
    stored = (
        content
        if content is None or isinstance(content, RawContent)
        else FormattedMessage(
            source="Sender <sender@example.com>",
            destination=Destination(to=("a@example.org",), cc=("b@example.org",)),
            content=content,
        )
    )
    return mail_headers(stored, message_id="ses-id", template_subject=template_subject)


def test_folded_fields_are_unfolded_keeping_their_blanks_and_the_body_is_ignored() -> None:
    raw = b"Subject: one\r\n\ttwo\r\nX-Empty:\r\nFrom: a@example.com\n\nSubject: not a header\n"
    assert header_fields(raw) == [
        ("Subject", "one\ttwo"),
        ("X-Empty", ""),
        ("From", "a@example.com"),
    ]


def test_common_headers_decode_names_and_subjects_and_list_each_address() -> None:
    raw = (
        b"Return-Path: <bounces@example.com>\r\n"
        b"From: =?UTF-8?B?SsO2cmc=?= <joerg@example.com>\r\n"
        b"Reply-To: help@example.com\r\n"
        b'To: a@example.org, "B, Person" <b@example.org>\r\n'
        b"Cc: c@example.org\r\n"
        b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
        b"Message-ID: <abc@client.example>\r\n\r\n"
    )
    common = headers(RawContent(data=raw)).common
    assert common == {
        "returnPath": "bounces@example.com",
        "from": ["Jörg <joerg@example.com>"],
        "replyTo": ["help@example.com"],
        "to": ["a@example.org", "B, Person <b@example.org>"],
        "cc": ["c@example.org"],
        "messageId": "<abc@client.example>",
        "subject": "Grüße",
    }


def test_headers_are_truncated_whole_at_10_kb() -> None:
    raw = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"x" * 1000) for i in range(12)) + b"\r\n"
    described = headers(RawContent(data=raw))
    assert described.truncated is True
    assert len(described.headers) == 10
    small = headers(RawContent(data=b"From: a@example.com\r\n\r\n"))
    assert small.truncated is False


def test_a_formatted_send_has_the_header_block_ses_builds() -> None:
    content = SimpleContent(
        subject="Grüße", text="t", html="<p>h</p>", headers=(("X-Campaign", "7"),)
    )
    described = headers(content)
    assert described.headers_json() == [
        {"name": "From", "value": "Sender <sender@example.com>"},
        {"name": "To", "value": "a@example.org"},
        {"name": "Cc", "value": "b@example.org"},
        {"name": "Subject", "value": "=?utf-8?b?R3LDvMOfZQ==?="},
        {"name": "X-Campaign", "value": "7"},
        {"name": "MIME-Version", "value": "1.0"},
        {"name": "Content-Type", "value": "multipart/alternative"},
    ]
    assert described.common == {
        "from": ["Sender <sender@example.com>"],
        "to": ["a@example.org"],
        "cc": ["b@example.org"],
        "messageId": "ses-id",
        "subject": "Grüße",
    }


def test_a_templated_send_renders_its_subject() -> None:
    inline = TemplateContent(subject="Hi {{name}}", text="x", template_data='{"name": "Ann"}')
    assert headers(inline).common["subject"] == "Hi Ann"
    stored = TemplateContent(template_name="Welcome", template_data='{"name": "Bo"}')
    described = headers(stored, template_subject="Welcome {{name}}")
    assert described.common["subject"] == "Welcome Bo"
    missing = TemplateContent(template_name="Welcome", template_data="{}")
    assert "subject" not in headers(missing, template_subject="Hi {{name}}").common


def test_stored_content_is_decoded_by_operation() -> None:
    formatted = FormattedMessage(
        source="a@example.com",
        destination=Destination(to=("b@example.com",)),
        content=SimpleContent(subject="s", text="t"),
    )
    assert decode_request_content(msgspec.json.encode(formatted), "SendEmail") == formatted
    raw = b"From: a@example.com\r\n\r\n"
    assert decode_request_content(raw, "SendRawEmail") == RawContent(data=raw)
    assert decode_request_content(raw, "SendEmail") == RawContent(data=raw)  # not JSON


def test_without_content_only_the_message_id_is_known() -> None:
    described = headers(None)
    assert described.headers == ()
    assert described.common == {"messageId": "ses-id"}
