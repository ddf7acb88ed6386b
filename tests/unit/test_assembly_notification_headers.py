"""`notification_headers`: `headers`, `headersTruncated` and `commonHeaders` of `mail`."""

from __future__ import annotations

import msgspec

from sendtrail.core.assembly import Content, SimpleMessage, build_simple, notification_headers

SES_ID = "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"

# The DG's documented bounce/delivery message (reference 3.6), as the client sent it.
DG_MESSAGE = (
    b'From: "John Doe" <john@example.com>\r\n'
    b'To: "Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>,'
    b' "Richard Doe" <richard@example.com>\r\n'
    b"Message-ID: custom-message-ID\r\n"
    b"Subject: Hello\r\n"
    b'Content-Type: text/plain; charset="UTF-8"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"Date: Wed, 27 Jan 2016 14:05:45 +0000\r\n"
    b"\r\n"
    b"SGVsbG8=\r\n"
)


def as_json(value: msgspec.Struct) -> dict[str, object]:
    decoded = msgspec.json.decode(msgspec.json.encode(value))
    assert isinstance(decoded, dict)
    return decoded


def test_the_dg_example_comes_out_as_documented() -> None:
    result = notification_headers(DG_MESSAGE, SES_ID)
    assert result.headers_truncated is False
    assert [(header.name, header.value) for header in result.headers] == [
        ("From", '"John Doe" <john@example.com>'),
        (
            "To",
            '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>, '
            '"Richard Doe" <richard@example.com>',
        ),
        ("Message-ID", "custom-message-ID"),
        ("Subject", "Hello"),
        ("Content-Type", 'text/plain; charset="UTF-8"'),
        ("Content-Transfer-Encoding", "base64"),
        ("Date", "Wed, 27 Jan 2016 14:05:45 +0000"),
    ]
    assert as_json(result.common_headers) == {
        "from": ["John Doe <john@example.com>"],
        "date": "Wed, 27 Jan 2016 14:05:45 +0000",
        # One entry per address, as observed on real notifications (`cc` with two).
        "to": [
            "Jane Doe <jane@example.com>",
            "Mary Doe <mary@example.com>",
            "Richard Doe <richard@example.com>",
        ],
        "messageId": "custom-message-ID",
        "subject": "Hello",
    }


def test_keys_are_in_sess_order_and_named_as_ses_names_them() -> None:
    raw = (
        b"Return-Path: <bounces@example.com>\r\n"
        b"Subject: S\r\n"
        b"Cc: c1@example.com, c2@example.com\r\n"
        b"To: t@example.com\r\n"
        b"Reply-To: r@example.com\r\n"
        b"From: f@example.com\r\n"
        b"Date: Fri, 11 Sep 2015 20:32:32 +0000\r\n"
        b"\r\n"
    )
    common = as_json(notification_headers(raw, SES_ID).common_headers)
    assert list(common) == [
        "returnPath",
        "from",
        "replyTo",
        "date",
        "to",
        "cc",
        "messageId",
        "subject",
    ]
    assert common["cc"] == ["c1@example.com", "c2@example.com"]


def test_a_built_message_shows_the_ses_id_and_no_date() -> None:
    """The DG's Send example: a formatted send has no Message-ID of its own yet."""
    raw = build_simple(
        SimpleMessage(
            from_address="sender@example.com",
            to=("recipient@example.com",),
            subject=Content("Message sent from Amazon SES"),
            text=Content("x"),
        )
    )
    result = notification_headers(raw, SES_ID)
    assert [header.name for header in result.headers] == [
        "From",
        "To",
        "Subject",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ]
    assert as_json(result.common_headers) == {
        "from": ["sender@example.com"],
        "to": ["recipient@example.com"],
        "messageId": SES_ID,
        "subject": "Message sent from Amazon SES",
    }


def test_control_headers_are_shown_as_submitted() -> None:
    raw = b"From: a@example.com\r\nX-SES-MESSAGE-TAGS: a=b, c=d\r\n\r\n"
    headers = notification_headers(raw, SES_ID).headers
    assert headers[-1].name == "X-SES-MESSAGE-TAGS"
    assert headers[-1].value == "a=b, c=d"


def test_folded_values_are_unfolded_keeping_their_blanks() -> None:
    raw = (
        b"From: a@example.com\r\n"
        b'Content-Type: multipart/mixed; \r\n boundary="----=_Part_0_716996660.1476421336341"\r\n'
        b"\r\n"
    )
    content_type = notification_headers(raw, SES_ID).headers[1]
    # The DG's Send example shows exactly this double blank.
    assert content_type.value == 'multipart/mixed;  boundary="----=_Part_0_716996660.1476421336341"'


def test_encoded_words_are_decoded_in_common_headers_only() -> None:
    raw = (
        b"From: =?UTF-8?Q?J=C3=B6rg_M=2E_M=C3=BCller?= <joerg@example.com>\r\n"
        b"To: Plain Name <p@example.com>, Team: a@example.com, b@example.com;\r\n"
        b"Subject: =?UTF-8?B?R3LDvMOfZQ==?= again\r\n"
        b"\r\n"
    )
    result = notification_headers(raw, SES_ID)
    assert result.headers[2].value == "=?UTF-8?B?R3LDvMOfZQ==?= again"
    common = result.common_headers
    # A name with a '.' needs quotes, as JavaMail writes it.
    assert common.from_ == ('"Jörg M. Müller" <joerg@example.com>',)
    assert common.to == ("Plain Name <p@example.com>", "Team: a@example.com, b@example.com;")
    assert common.subject == "Grüße again"


def test_an_unparsable_address_header_is_shown_as_written() -> None:
    raw = b"From: a@example.com\r\nTo: not an address;;\r\n\r\n"
    assert notification_headers(raw, SES_ID).common_headers.to == ("not an address;;",)


def test_headers_over_10_kb_are_truncated_whole_fields_at_a_time() -> None:
    filler = [f"X-Filler-{n}: {'v' * 200}\r\n".encode() for n in range(60)]
    raw = b"From: a@example.com\r\n" + b"".join(filler) + b"Subject: last\r\n\r\nbody"
    result = notification_headers(raw, SES_ID)
    assert result.headers_truncated is True
    kept_size = sum(len(f"{h.name}: {h.value}\r\n") for h in result.headers)
    assert kept_size <= 10 * 1024
    assert kept_size + len(filler[0]) > 10 * 1024  # nothing more would have fitted
    # commonHeaders are computed from every header, not just the kept ones.
    assert result.common_headers.subject == "last"


def test_headers_just_within_the_limit_are_not_truncated() -> None:
    raw = b"From: a@example.com\r\n\r\n"
    result = notification_headers(raw, SES_ID, limit=len(raw) - 2)
    assert result.headers_truncated is False
    assert len(result.headers) == 1
