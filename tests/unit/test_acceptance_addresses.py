"""Address parsing and validation with SES's (JavaMail's) exact texts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.acceptance.addresses import (
    parse_address,
    parse_address_fully,
    parse_address_list,
    punycode_address,
    recipients_from_headers,
)
from sendtrail.core.acceptance.errors import Condition, SesError

NON_ASCII_TEXT = "There are non-ASCII characters in the email address"


def rejection(text: str) -> SesError:
    with pytest.raises(SesError) as caught:
        parse_address(text)
    return caught.value


def test_bare_address_is_split_and_domain_lower_cased() -> None:
    # Given a bare address with a mixed-case domain
    # When it is parsed
    address = parse_address("Jane.Doe@Example.COM")
    # Then the local part keeps its case and the domain does not
    assert address.local_part == "Jane.Doe"
    assert address.domain == "example.com"
    assert address.address == "Jane.Doe@example.com"
    assert address.display_name is None
    assert address.original == "Jane.Doe@Example.COM"


@pytest.mark.parametrize(
    ("text", "display_name"),
    [
        ("Jane Doe <jane@example.com>", "Jane Doe"),
        ('"Doe, Jane" <jane@example.com>', "Doe, Jane"),
        ('"Jane \\"JD\\" Doe" <jane@example.com>', 'Jane "JD" Doe'),
        ("jane@example.com (Jane Doe)", "Jane Doe"),
        ("=?UTF-8?B?SsO8cmdlbg==?= <jane@example.com>", "Jürgen"),
        ("=?ISO-8859-1?Q?J=FCrgen?= <jane@example.com>", "Jürgen"),
        ("<jane@example.com>", None),
    ],
)
def test_display_names_are_unquoted_and_decoded(text: str, display_name: str | None) -> None:
    # Given / When an address with a display name is parsed
    address = parse_address(text)
    # Then the name is decoded, the address bare, and the original kept for error texts
    assert address.display_name == display_name
    assert address.address == "jane@example.com"
    assert address.original == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jane", "Missing final '@domain'"),
        ("jane@", "Missing domain"),
        ("jane doe@example.com", "Local address contains control or whitespace"),
        ("jane@exam ple.com", "Domain contains control or whitespace"),
        ("ja[ne@example.com", "Missing ']'"),
        ("ja>ne@example.com", "Missing '<'"),
        ("ja]ne@example.com", "Local address contains illegal character"),
        ("jane@exa_mple.com", "Domain contains illegal character"),
        ("jane@example.com@other.com", "Domain contains illegal character"),
        ("jane@example.com, joe@example.com", "Illegal address"),
        ("", "Illegal address"),
        ("jane@example.com;", "Illegal semicolon, not in group"),
        ("Team: jane@example.com;", "Illegal address"),
        ("jane..doe@example.com", "Local address contains dot-dot"),
        (".jane@example.com", "Local address starts with dot"),
        ("jane.@example.com", "Local address ends with dot"),
        ("jane@example..com", "Domain contains dot-dot"),
        ("jane@.example.com", "Domain starts with dot"),
        ("jane@example.com.", "Domain ends with dot"),
        ("Jane <jane@example.com", "Missing '>'"),
        ("@example.com", "Missing local name"),
    ],
)
def test_malformed_addresses_get_ses_invalid_parameter_texts(text: str, message: str) -> None:
    # Given a malformed address
    # When it is parsed
    error = rejection(text)
    # Then SES's InvalidParameterValue text comes back
    assert error.code == "InvalidParameterValue"
    assert error.condition is Condition.INVALID_ADDRESS
    assert error.message == message


@pytest.mark.parametrize(
    "text",
    [
        "jürgen@example.com",
        "jane@bücher.example",
        "Jürgen <jane@example.com>",
        "jane@example.com\u00a0",
    ],
)
def test_non_ascii_anywhere_is_rejected(text: str) -> None:
    error = rejection(text)
    assert error.condition is Condition.NON_ASCII_ADDRESS
    assert error.message == NON_ASCII_TEXT


def test_punycode_domains_are_accepted_after_the_caller_converts_them() -> None:
    # Given an IDN address converted by the caller
    converted = punycode_address("jane@bücher.example")
    # When it is parsed
    address = parse_address(converted)
    # Then the ACE form is the domain
    assert converted == "jane@xn--bcher-kva.example"
    assert address.domain == "xn--bcher-kva.example"


def test_punycode_address_leaves_ascii_and_local_parts_alone() -> None:
    assert punycode_address("jane@example.com") == "jane@example.com"
    assert punycode_address("jürgen@bücher.example") == "jürgen@xn--bcher-kva.example"


def test_single_label_domains_and_domain_literals_pass_syntax() -> None:
    # SES accepted webmaster@localhost for parsing and failed it only at verification.
    assert parse_address("webmaster@localhost").domain == "localhost"
    assert parse_address("jane@[192.0.2.1]").domain == "[192.0.2.1]"


def test_quoted_local_part_keeps_its_quotes() -> None:
    address = parse_address('"jane doe"@example.com')
    assert address.local_part == '"jane doe"'


def test_header_list_expands_groups_and_keeps_order() -> None:
    # Given a To value with a plain address, a group and a trailing address
    value = 'a@x.com, Team: B <b@y.com>, "C, Sr" <c@y.com>; d@z.com'
    # When it is parsed as a header list
    addresses = parse_address_list(value)
    # Then the group members are recipients in their own right
    assert [a.address for a in addresses] == ["a@x.com", "b@y.com", "c@y.com", "d@z.com"]
    assert addresses[2].display_name == "C, Sr"


def test_empty_group_names_no_recipient() -> None:
    assert parse_address_list("undisclosed-recipients:;") == []


def test_folded_header_values_are_unfolded() -> None:
    addresses = parse_address_list("a@x.com,\r\n b@y.com")
    assert [a.address for a in addresses] == ["a@x.com", "b@y.com"]


def test_header_list_errors_use_ses_texts() -> None:
    with pytest.raises(SesError) as caught:
        parse_address_list("a@x.com; b@y.com")
    assert caught.value.message == "Illegal semicolon, not in group"
    with pytest.raises(SesError) as caught:
        parse_address_list("Team: a@x.com, Sub: b@y.com;;")
    assert caught.value.message == "Nested group"


def test_recipients_from_headers_collects_to_cc_bcc_in_order() -> None:
    recipients = recipients_from_headers(
        to=["a@x.com", "b@x.com"], cc=["List: c@x.com;"], bcc=["d@x.com"]
    )
    assert [r.address for r in recipients] == ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]


# --- properties ----------------------------------------------------------------------------

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
atoms = st.text(alphabet=ATEXT, min_size=1, max_size=12)
local_parts = st.lists(atoms, min_size=1, max_size=3).map(".".join)
labels = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
printable_names = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30
).filter(lambda name: name.strip() and "=?" not in name)


@given(local=local_parts, domain=domains)
def test_any_7bit_dot_atom_address_is_accepted(local: str, domain: str) -> None:
    # Given any RFC 5322 dot-atom address in 7-bit ASCII
    # When it is parsed
    address = parse_address(f"{local}@{domain}")
    # Then it is accepted as written, the domain lower-cased
    assert address.local_part == local
    assert address.domain == domain.lower()
    assert address.address == f"{local}@{domain.lower()}"


@given(local=local_parts, domain=domains, name=printable_names)
def test_any_quoted_display_name_is_accepted_and_unquoted(
    local: str, domain: str, name: str
) -> None:
    # Given any printable ASCII display name, quoted with escapes
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # When the address is parsed
    address = parse_address(f"{quoted} <{local}@{domain}>")
    # Then the display name comes back exactly
    assert address.display_name == name
    assert address.address == f"{local}@{domain.lower()}"


@given(
    head=st.text(max_size=20),
    bad=st.characters(min_codepoint=128),
    tail=st.text(max_size=20),
)
def test_any_string_with_a_non_ascii_character_is_rejected_with_ses_text(
    head: str, bad: str, tail: str
) -> None:
    # Given any string containing a character outside 7-bit ASCII
    # When it is parsed as an address or an address list
    with pytest.raises(SesError) as single:
        parse_address(head + bad + tail)
    with pytest.raises(SesError) as listed:
        parse_address_list(head + bad + tail)
    # Then both refuse it with SES's exact text
    assert single.value.message == NON_ASCII_TEXT
    assert listed.value.message == NON_ASCII_TEXT


@given(st.lists(st.tuples(local_parts, domains), min_size=1, max_size=8))
def test_any_comma_separated_list_parses_in_order(pairs: list[tuple[str, str]]) -> None:
    value = ", ".join(f"{local}@{domain}" for local, domain in pairs)
    parsed = parse_address_list(value)
    assert [a.address for a in parsed] == [f"{local}@{domain.lower()}" for local, domain in pairs]


@given(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[A-Za-z0-9_+-]{1,5}){0,2}"
        r"@([A-Za-z0-9]([A-Za-z0-9-]{0,5}[A-Za-z0-9])?\.){1,3}[A-Za-z]{2,6}",
        fullmatch=True,
    )
)
def test_the_shortcut_for_plain_addresses_agrees_with_the_full_parser(text: str) -> None:
    assert parse_address(text) == parse_address_fully(text)
