"""Parse and validate email addresses the way SES does.

- 7-bit ASCII only: any other character anywhere in the string, display name included, is
  `There are non-ASCII characters in the email address` (SES has no SMTPUTF8).
- IDN domains: the caller converts them to Punycode (`punycode_address` helps). Nothing
  here converts silently, because SES rejects a raw Unicode domain and so must we.
- Display names: quoted or bare, or a trailing comment, as RFC 5322 allows; MIME
  encoded-words (`=?UTF-8?B?...?=`) are decoded for `display_name`.
- Syntax errors carry SES's texts (see `address_syntax` for where they come from).
"""

from __future__ import annotations

import email.errors
import email.header
import functools
import re
from collections.abc import Iterable

import msgspec

from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.address_syntax import (
    AddressSyntaxError,
    RawAddress,
    check_address,
    group_members,
    parse_list,
)

_FOLD = re.compile(r"\r?\n(?=[ \t])")


class EmailAddress(msgspec.Struct, frozen=True):
    """One mailbox. `original` is the text as given, which is what SES prints back in the
    unverified-identity message (`Sendportal <a@x>`)."""

    original: str
    display_name: str | None
    local_part: str  # as written: SES treats the local part as case-sensitive
    domain: str  # lower-cased
    address: str  # local_part@domain, the bare address

    @property
    def labelless_local_part(self) -> str:
        """The local part without a `+label` (`bounce+x` -> `bounce`)."""
        return self.local_part.split("+", 1)[0]


def ensure_ascii(text: str) -> None:
    """Raise SES's non-ASCII error if `text` has any character outside 7-bit ASCII."""
    if not text.isascii():
        raise errors.non_ascii_address()


# A bare dot-atom address at a host name: most recipients, and always valid. Matching it first
# spares the full parser, whose answer for these is the same (a property test checks it).
_PLAIN_ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
)


# Senders repeat from request to request; the answer for a text never changes.
@functools.lru_cache(maxsize=8192)
def parse_address(text: str) -> EmailAddress:
    """A single mailbox, such as `Source`, `FromEmailAddress` or one `ToAddresses` entry."""
    plain = _PLAIN_ADDRESS.fullmatch(text)
    if plain is not None:
        local_part, domain = plain[1], plain[2].lower()
        return EmailAddress(
            original=text,
            display_name=None,
            local_part=local_part,
            domain=domain,
            address=f"{local_part}@{domain}",
        )
    return parse_address_fully(text)


def parse_address_fully(text: str) -> EmailAddress:
    """``parse_address`` without the shortcut for plain addresses."""
    ensure_ascii(text)
    try:
        entries = parse_list(text)
    except AddressSyntaxError as exc:
        raise errors.invalid_address(str(exc)) from None
    # JavaMail's single-address constructor: anything but exactly one address is illegal.
    # A group is one address to JavaMail, but never a mailbox SES could send from or to.
    if len(entries) != 1 or entries[0].is_group:
        raise errors.illegal_address()
    return _validated(entries[0])


def parse_address_list(text: str) -> list[EmailAddress]:
    """Every mailbox of a header value (To, Cc, Bcc, From, Reply-To), group members
    included (`Team: a@x, b@y;`); an empty group (`undisclosed-recipients:;`) adds none."""
    ensure_ascii(text)
    text = _FOLD.sub("", text)
    try:
        entries = parse_list(text)
    except AddressSyntaxError as exc:
        raise errors.invalid_address(str(exc)) from None
    found: list[EmailAddress] = []
    for entry in entries:
        if entry.is_group:
            found.extend(parse_address_list(group_members(entry.addr)))
        else:
            found.append(_validated(entry))
    return found


def recipients_from_headers(
    to: Iterable[str] = (), cc: Iterable[str] = (), bcc: Iterable[str] = ()
) -> list[EmailAddress]:
    """All recipients named by To/Cc/Bcc header values, in header order. Each argument
    takes every occurrence of that header, as a message may repeat them."""
    found: list[EmailAddress] = []
    for value in (*to, *cc, *bcc):
        found.extend(parse_address_list(value))
    return found


def punycode_address(address: str) -> str:
    """`user@bücher.example` -> `user@xn--bcher-kva.example`, for callers that accept IDN
    input before handing it to SES's rules. Only the domain of a bare address changes;
    a non-ASCII local part is left for `parse_address` to reject, as SES does."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return address  # not a valid IDN: leave it for the non-ASCII rejection
    return f"{local}@{ascii_domain}"


def _validated(entry: RawAddress) -> EmailAddress:
    try:
        at = check_address(entry.addr, route_addr=entry.route_addr, validate=True)
    except AddressSyntaxError as exc:
        raise errors.invalid_address(str(exc)) from None
    addr = entry.addr
    local_start = addr.index(":") + 1 if entry.route_addr and addr.startswith("@") else 0
    local_part = addr[local_start:at]
    domain = addr[at + 1 :].lower()
    return EmailAddress(
        original=entry.text,
        display_name=_decode_display_name(entry.personal),
        local_part=local_part,
        domain=domain,
        address=f"{local_part}@{domain}",
    )


def _decode_display_name(personal: str | None) -> str | None:
    if personal is None or "=?" not in personal:
        return personal
    try:
        return str(email.header.make_header(email.header.decode_header(personal)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        # An undecodable encoded-word is shown as written, as mail clients do.
        return personal
