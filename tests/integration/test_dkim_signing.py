"""Easy-DKIM keys and signing, verified with dkimpy against the published record.

No real DNS: `dnsfunc` answers from the records the keys module renders.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from sendtrail.adapters.dkim_keys import (
    DkimKey,
    DnsRecord,
    EasyDkim,
    generate_key,
    key_bits,
    load_key,
    new_easy_dkim,
    new_token,
)
from sendtrail.adapters.dkim_signing import DkimSigningError, sign_message
from sendtrail.core.assembly import (
    Attachment,
    Content,
    SimpleMessage,
    build_simple,
    finalize,
)

MESSAGE_ID = "0100018321f34295-7c843665-0c84-40d2-ac68-6f21dac57bbd-000000"
ACCEPTED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@cache
def easy_dkim() -> EasyDkim:
    # Key generation is the slow part: one set for the whole module.
    return new_easy_dkim("Example.COM")


@cache
def key_1024() -> DkimKey:
    return generate_key("example.com", "s1024", bits=1024)


def dns(records: Iterable[DnsRecord]) -> Callable[..., bytes | None]:
    """A `dnsfunc` for dkimpy: the TXT records given, by name, nothing else."""
    table = {record.name: record for record in records if record.type == "TXT"}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        record = table.get(name.decode("ascii").rstrip(".").lower())
        # As a resolver returns a split record: its strings joined.
        return "".join(record.txt_strings()).encode("ascii") if record else None

    return lookup


def finalized_message() -> bytes:
    raw = build_simple(
        SimpleMessage(
            from_address="Sender <sender@example.com>",
            to=("a@example.org",),
            cc=("c@example.org",),
            reply_to=("reply@example.com",),
            subject=Content("Grüße"),
            text=Content("Hello"),
            html=Content("<p>Hello</p>"),
            attachments=(Attachment(raw_content=b"%PDF-1.4", file_name="a.pdf"),),
        )
    )
    return finalize(raw, MESSAGE_ID, "email.amazonses.com", ACCEPTED)


def signature_tags(signed: bytes) -> dict[str, str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode("ascii")
    field = re.match(r"DKIM-Signature: (.*?)\r\n(?! )", header, re.DOTALL)
    assert field is not None
    text = re.sub(r"\s+", "", field.group(1))
    return dict(tag.split("=", 1) for tag in text.split(";") if tag)


def test_a_signed_message_verifies_against_the_published_record() -> None:
    key = easy_dkim().signing_key
    signed = sign_message(finalized_message(), key)
    assert signed.startswith(b"DKIM-Signature: ")
    assert dkim.verify(signed, dnsfunc=dns([key.txt_record()]))


def test_signature_names_the_domain_the_token_selector_and_the_headers() -> None:
    key = easy_dkim().signing_key
    tags = signature_tags(sign_message(finalized_message(), key))
    assert tags["d"] == "example.com"
    assert tags["s"] == key.selector
    assert tags["c"] == "relaxed/relaxed"
    assert tags["a"] == "rsa-sha256"
    assert tags["h"].split(":") == [
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "reply-to",
    ]


def test_absent_headers_are_not_signed() -> None:
    raw = finalize(b"From: a@example.com\r\n\r\nbody\r\n", MESSAGE_ID, "x.example", ACCEPTED)
    tags = signature_tags(sign_message(raw, key_1024()))
    assert tags["h"].split(":") == ["from", "date", "message-id", "mime-version"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"\r\nHello\r\n", b"\r\nHellp\r\n"),  # the text body
        (b"JVBERi0xLjQ=", b"JVBERi0xLjU="),  # the base64 attachment
        (b"Subject: =?utf-8?b?R3LDvMOfZQ==?=", b"Subject: =?utf-8?b?R3LDvMOfZT8=?="),
        (b"To: a@example.org", b"To: b@example.org"),
        (b"Date: Mon, 5 Jan", b"Date: Tue, 6 Jan"),
    ],
)
def test_tampering_breaks_verification(old: bytes, new: bytes) -> None:
    key = easy_dkim().signing_key
    signed = sign_message(finalized_message(), key)
    assert old in signed
    tampered = signed.replace(old, new, 1)
    assert not dkim.verify(tampered, dnsfunc=dns([key.txt_record()]))


def test_body_tampering_fails_even_in_relaxed_canonicalization() -> None:
    key = key_1024()
    signed = sign_message(finalized_message(), key)
    head, body = signed.split(b"\r\n\r\n", 1)
    assert dkim.verify(signed, dnsfunc=dns([key.txt_record()]))
    assert not dkim.verify(
        head + b"\r\n\r\n" + body + b"P.S. added\r\n", dnsfunc=dns([key.txt_record()])
    )


def test_whitespace_changes_a_relay_makes_still_verify() -> None:
    key = key_1024()
    signed = sign_message(finalized_message(), key)
    relayed = signed.replace(b"Subject: ", b"Subject:   ", 1).replace(b"\r\n\r\n", b"  \r\n\r\n", 1)
    assert dkim.verify(relayed, dnsfunc=dns([key.txt_record()]))


def test_a_wrong_key_in_dns_fails() -> None:
    signed = sign_message(finalized_message(), easy_dkim().keys[0])
    impostor = easy_dkim().keys[1]
    record = DnsRecord(easy_dkim().keys[0].record_name, "TXT", impostor.txt_value)
    assert not dkim.verify(signed, dnsfunc=dns([record]))


def test_lf_only_messages_are_signed_with_lf() -> None:
    raw = b"From: a@example.com\nSubject: hi\n\nbody\n"
    signed = sign_message(raw, key_1024())
    assert b"\r" not in signed
    assert dkim.verify(signed, dnsfunc=dns([key_1024().txt_record()]))


def test_a_message_without_from_cannot_be_signed() -> None:
    with pytest.raises(DkimSigningError):
        sign_message(b"Subject: hi\r\n\r\nbody\r\n", key_1024())


# --- keys and records ----------------------------------------------------------------------


def test_easy_dkim_has_three_distinct_tokens_like_sess() -> None:
    setup = easy_dkim()
    assert setup.domain == "example.com"
    assert len(set(setup.tokens)) == 3
    for token in setup.tokens:
        assert re.fullmatch(r"[a-z2-7]{32}", token)


def test_easy_dkim_cname_records_point_at_the_dkim_host() -> None:
    setup = easy_dkim()
    for token, record in zip(setup.tokens, setup.cname_records(), strict=True):
        assert record == DnsRecord(
            f"{token}._domainkey.example.com", "CNAME", f"{token}.dkim.amazonses.com"
        )
    for token, record in zip(setup.tokens, setup.host_txt_records(), strict=True):
        assert record.name == f"{token}.dkim.amazonses.com"
        assert record.type == "TXT"


def test_the_host_record_verifies_too_as_a_cname_would_lead_there() -> None:
    key = easy_dkim().signing_key
    signed = sign_message(finalized_message(), key)
    host_record = key.host_txt_record()
    # What a resolver does for the CNAME: answer the selector name with the target's TXT.
    followed = DnsRecord(key.record_name, "TXT", host_record.value)
    assert dkim.verify(signed, dnsfunc=dns([followed]))


def test_txt_record_is_a_dkim1_rsa_key_split_for_dns() -> None:
    key = easy_dkim().signing_key
    record = key.txt_record()
    assert record.name == f"{key.selector}._domainkey.example.com"
    assert record.value.startswith("v=DKIM1; k=rsa; p=")
    assert base64.b64decode(record.value.split("p=", 1)[1]) == key.public_key_der
    strings = record.txt_strings()
    assert len(strings) == 2  # a 2048-bit key is longer than one 255-octet string
    assert all(len(part) <= 255 for part in strings)
    assert "".join(strings) == record.value


def test_key_sizes_follow_dkim_signing_key_length() -> None:
    assert key_bits(None) == 2048
    assert key_bits("RSA_2048_BIT") == 2048
    assert key_bits("RSA_1024_BIT") == 1024
    assert easy_dkim().signing_key.bits == 2048
    assert key_1024().bits == 1024
    with pytest.raises(ValueError):
        key_bits("RSA_4096_BIT")
    with pytest.raises(ValueError):
        generate_key("example.com", "s", bits=512)


def test_tokens_come_from_the_random_source() -> None:
    assert new_token(lambda count: bytes(count)) == "a" * 32
    assert new_token(lambda count: b"\xff" * count) == "7" * 32


def test_repeated_random_tokens_are_drawn_again() -> None:
    draws = iter([bytes(20), bytes(20), b"\x01" * 20, b"\x02" * 20])
    setup = new_easy_dkim("example.com", bits=1024, random_bytes=lambda _count: next(draws))
    assert len(set(setup.tokens)) == 3


def test_a_stored_key_loads_back_in_any_common_form() -> None:
    key = key_1024()
    assert load_key("example.com", "s1024", key.private_key_pem) == key
    private_key = serialization.load_pem_private_key(key.private_key_pem, password=None)
    pkcs8_der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # BYODKIM's DomainSigningPrivateKey form: base64 of the DER key.
    assert load_key("example.com", "s1024", base64.b64encode(pkcs8_der)) == key


def test_private_keys_stay_out_of_reprs() -> None:
    assert "PRIVATE" not in repr(key_1024())


@pytest.mark.parametrize("selector", ["", "-bad", "bad-", "has space", "a" * 64, "dot.ted"])
def test_selectors_follow_the_byodkim_pattern(selector: str) -> None:
    with pytest.raises(ValueError):
        load_key("example.com", selector, key_1024().private_key_pem)
