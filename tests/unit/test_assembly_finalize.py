"""`finalize`: the headers SES changes, every other byte kept; control headers; VERP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sendtrail.core.acceptance import content_rules
from sendtrail.core.assembly import (
    Content,
    SimpleMessage,
    build_simple,
    finalize,
    format_date,
    header_domain_for_region,
    message_id_from_verp,
    read_control_headers,
    verp_address,
)
from sendtrail.core.assembly.header_block import MalformedHeaderBlock, split_header_block

MESSAGE_ID = "0100018321f34295-7c843665-0c84-40d2-ac68-6f21dac57bbd-000000"
ACCEPTED = datetime(2026, 1, 5, 9, 30, 7, 123456, tzinfo=UTC)
DOMAIN = "email.amazonses.com"
SES_MESSAGE_ID_HEADER = f"Message-ID: <{MESSAGE_ID}@{DOMAIN}>".encode()
SES_DATE_HEADER = b"Date: Mon, 5 Jan 2026 09:30:07 +0000"

CLIENT_MESSAGE = (
    b"From: Sender <sender@example.com>\r\n"
    b"To: a@example.com\r\n"
    b"Bcc: hidden@example.com,\r\n"
    b"  also-hidden@example.com\r\n"
    b"Message-Id: <client-1@example.com>\r\n"
    b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and a long subject that\r\n"
    b"\tis folded by the client\r\n"
    b"X-SES-CONFIGURATION-SET: Marketing\r\n"
    b"x-ses-message-tags: campaign=spring, segment=vip\r\n"
    b"X-SES-SOURCE-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n"
    b"X-SES-FROM-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n"
    b"X-SES-RETURN-PATH-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n"
    b"X-SES-LIST-MANAGEMENT-OPTIONS: news; topic=weekly\r\n"
    b"Date: Tue, 1 Jan 2019 00:00:00 -0800\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe, =?not-a-word?= and odd  spacing  \r\n"
    b"X-SES-CONFIGURATION-SET: in the body, not a header\r\n"
)


def lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n")


def test_message_id_and_date_are_replaced_where_they_were() -> None:
    final = finalize(CLIENT_MESSAGE, MESSAGE_ID, DOMAIN, ACCEPTED)
    head = lines(final.split(b"\r\n\r\n", 1)[0])
    names = [line.split(b":")[0] for line in head if line[:1] not in (b" ", b"\t")]
    assert names == [
        b"From",
        b"To",
        b"Message-ID",
        b"Subject",
        b"Date",
        b"MIME-Version",
        b"Content-Type",
        b"Content-Transfer-Encoding",
    ]
    assert SES_MESSAGE_ID_HEADER in head
    assert SES_DATE_HEADER in head
    assert b"client-1" not in final
    assert b"2019" not in final


def test_control_headers_and_bcc_are_removed_with_their_continuation_lines() -> None:
    final = finalize(CLIENT_MESSAGE, MESSAGE_ID, DOMAIN, ACCEPTED)
    head = final.split(b"\r\n\r\n", 1)[0]
    assert b"hidden@example.com" not in final
    assert re.search(rb"(?im)^x-ses-", head) is None


def test_everything_else_keeps_its_bytes() -> None:
    final = finalize(CLIENT_MESSAGE, MESSAGE_ID, DOMAIN, ACCEPTED)
    # The folded, encoded subject exactly as the client wrote it.
    assert (
        b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and a long subject that\r\n"
        b"\tis folded by the client\r\n"
    ) in final
    # The body, 8-bit bytes and a header-like line included, untouched.
    assert final.endswith(CLIENT_MESSAGE.split(b"\r\n\r\n", 1)[1])


def test_missing_headers_are_added_at_the_end_of_the_header_block() -> None:
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    final = finalize(raw, MESSAGE_ID, DOMAIN, ACCEPTED)
    assert final == (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n"
        b"MIME-Version: 1.0\r\n" + SES_DATE_HEADER + b"\r\n" + SES_MESSAGE_ID_HEADER + b"\r\n"
        b"\r\nbody\r\n"
    )


def test_lf_only_messages_keep_lf_line_endings() -> None:
    raw = b"From: a@example.com\nSubject: hi\n\nbody\n"
    final = finalize(raw, MESSAGE_ID, DOMAIN, ACCEPTED)
    assert b"\r" not in final
    assert final.endswith(SES_MESSAGE_ID_HEADER + b"\n\nbody\n")


def test_a_repeated_message_id_leaves_only_sess() -> None:
    raw = b"Message-ID: <a@x>\r\nFrom: a@example.com\r\nMessage-ID: <b@x>\r\n\r\nbody"
    final = finalize(raw, MESSAGE_ID, DOMAIN, ACCEPTED)
    assert final.count(b"Message-ID") == 1
    assert final.startswith(SES_MESSAGE_ID_HEADER)


def test_extra_headers_come_last() -> None:
    raw = b"From: a@example.com\r\n\r\nbody"
    feedback_id = "1.us-east-1.abc=:AmazonSES"
    final = finalize(
        raw, MESSAGE_ID, DOMAIN, ACCEPTED, extra_headers=[("Feedback-ID", feedback_id)]
    )
    assert final.endswith(
        SES_MESSAGE_ID_HEADER + b"\r\nFeedback-ID: 1.us-east-1.abc=:AmazonSES\r\n\r\nbody"
    )


def test_a_built_message_is_finalized_like_a_raw_one() -> None:
    raw = build_simple(
        SimpleMessage(from_address="a@example.com", to=("b@example.com",), subject=Content("hi"))
    )
    final = finalize(raw, MESSAGE_ID, DOMAIN, ACCEPTED)
    assert final.startswith(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n" + SES_DATE_HEADER)
    facts = content_rules.inspect_raw_message(final, surface=content_rules.Surface.V2_API)
    assert facts.header_values("Message-ID") == [f"<{MESSAGE_ID}@{DOMAIN}>"]


def test_the_finalized_client_message_still_passes_sess_rules() -> None:
    final = finalize(CLIENT_MESSAGE, MESSAGE_ID, DOMAIN, ACCEPTED)
    facts = content_rules.inspect_raw_message(final, surface=content_rules.Surface.V1_API)
    assert [address.address for address in facts.recipients] == ["a@example.com"]


def test_acceptance_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        finalize(CLIENT_MESSAGE, MESSAGE_ID, DOMAIN, datetime(2026, 1, 5, 9, 30))


def test_date_is_utc_in_rfc_5322_form_with_an_unpadded_day() -> None:
    assert format_date(datetime(2016, 1, 27, 14, 5, 45, tzinfo=UTC)) == (
        "Wed, 27 Jan 2016 14:05:45 +0000"
    )
    plus_two = timezone(timedelta(hours=2))
    assert format_date(datetime(2026, 3, 1, 1, 2, 3, tzinfo=plus_two)) == (
        "Sat, 28 Feb 2026 23:02:03 +0000"
    )


@pytest.mark.parametrize(
    ("region", "domain"),
    [
        ("us-east-1", "email.amazonses.com"),
        ("eu-west-1", "eu-west-1.amazonses.com"),
        ("US-WEST-2", "us-west-2.amazonses.com"),
    ],
)
def test_header_domain_by_region(region: str, domain: str) -> None:
    assert header_domain_for_region(region) == domain


def test_a_message_without_a_header_block_is_refused() -> None:
    with pytest.raises(MalformedHeaderBlock):
        finalize(b"this is not a header\r\n\r\nbody", MESSAGE_ID, DOMAIN, ACCEPTED)


def test_a_message_that_is_all_headers_gets_its_blank_line() -> None:
    final = finalize(b"From: a@example.com\r\nSubject: x", MESSAGE_ID, DOMAIN, ACCEPTED)
    assert final.endswith(SES_MESSAGE_ID_HEADER + b"\r\n\r\n")
    assert b"Subject: x\r\n" in final


_HEADER_LINES = st.lists(
    st.tuples(
        st.sampled_from(["From", "To", "Subject", "Bcc", "X-SES-MESSAGE-TAGS", "X-Other", "Date"]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
        st.booleans(),
    ),
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(headers=_HEADER_LINES, body=st.binary(max_size=300), crlf=st.booleans())
def test_only_the_header_block_changes(
    headers: list[tuple[str, str, bool]], body: bytes, crlf: bool
) -> None:
    eol = b"\r\n" if crlf else b"\n"
    block = b"".join(
        f"{name}: {value}".encode() + (eol + b"\tcontinued" if folded else b"") + eol
        for name, value, folded in headers
    )
    raw = block + eol + body
    final = finalize(raw, MESSAGE_ID, DOMAIN, ACCEPTED)
    assert final.endswith(eol + body)
    kept = [
        field.raw
        for field in split_header_block(raw).fields
        if field.key not in {"bcc", "x-ses-message-tags", "date", "message-id"}
    ]
    final_fields = [field.raw for field in split_header_block(final).fields]
    assert [field for field in final_fields if field in kept] == kept


# --- control headers -----------------------------------------------------------------------


def test_control_headers_are_read_before_they_are_removed() -> None:
    control = read_control_headers(CLIENT_MESSAGE)
    assert control.configuration_set == "Marketing"
    assert control.message_tags == (("campaign", "spring"), ("segment", "vip"))
    assert control.source_arn == "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    assert control.from_arn == control.source_arn
    assert control.return_path_arn == control.source_arn
    assert control.list_management_options == "news; topic=weekly"


def test_a_message_without_control_headers_asks_for_nothing() -> None:
    control = read_control_headers(b"From: a@example.com\r\n\r\nbody")
    assert control.configuration_set is None
    assert control.message_tags == ()


# --- VERP ----------------------------------------------------------------------------------


def test_verp_address_names_the_message() -> None:
    address = verp_address(MESSAGE_ID, "Feedback.Example.com.")
    assert address == f"{MESSAGE_ID}@feedback.example.com"
    assert message_id_from_verp(f"<{address}>", "feedback.example.com") == MESSAGE_ID


@pytest.mark.parametrize(
    "address",
    [
        f"{MESSAGE_ID}@other.example.com",
        "someone@feedback.example.com",
        "no-at-sign",
    ],
)
def test_other_addresses_are_not_verp_addresses(address: str) -> None:
    assert message_id_from_verp(address, "feedback.example.com") is None


@pytest.mark.parametrize(
    ("message_id", "domain"),
    [("not-an-id", "feedback.example.com"), (MESSAGE_ID, ""), (MESSAGE_ID, "a@b")],
)
def test_verp_needs_a_message_id_and_a_domain(message_id: str, domain: str) -> None:
    with pytest.raises(ValueError):
        verp_address(message_id, domain)
