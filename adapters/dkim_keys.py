"""DKIM keys and DNS records in the manner of SES's Easy DKIM (reference 9).

Easy DKIM gives a domain three tokens and asks for three CNAME records:

    <token>._domainkey.<domain>  CNAME  <token>.dkim.amazonses.com

SES holds a key pair per token and publishes each public key at the CNAME's target.

Selector scheme: **the selector is the token** (32 lowercase base32 characters). A
signature then says `s=<token>; d=<domain>`, a verifier looks up
`<token>._domainkey.<domain>`, and the CNAME leads it to `<token>.<dkim host domain>`,
where whoever runs the engine publishes the TXT record (`host_txt_record`). A domain that
publishes the key itself instead (as with BYODKIM) puts the TXT record at the selector
name directly (`txt_record`). The same key works either way.

Generating keys and tokens needs entropy, so this is an adapter; signing is in
`dkim_signing`. Private keys are secrets: keep them out of the event log, which is
append-only and cannot forget them.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

EASY_DKIM_HOST_DOMAIN: Final = "dkim.amazonses.com"
EASY_DKIM_TOKEN_COUNT: Final = 3
# 20 random bytes are exactly 32 base32 characters, the length of SES's tokens
# (`EXAMPLEjcs5xoyqytjsotsijas7236gr`, BCv1-ex), with no padding.
TOKEN_BYTES: Final = 20

DEFAULT_KEY_BITS: Final = 2048
# v2 DkimSigningKeyLength values (reference 9).
KEY_BITS_BY_SIGNING_KEY_LENGTH: Final[dict[str, int]] = {
    "RSA_1024_BIT": 1024,
    "RSA_2048_BIT": 2048,
}
_PUBLIC_EXPONENT: Final = 65537
# A DNS TXT record holds character-strings of at most 255 octets (RFC 1035 3.3.14); a
# 2048-bit key does not fit in one, so zone files need it split.
_TXT_STRING_MAX: Final = 255
# BCv2 DomainSigningSelector: 1 to 63 letters, digits and inner hyphens.
_SELECTOR: Final = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str  # "TXT" or "CNAME"
    value: str  # for TXT, the whole text; see `txt_strings` for the split form

    def txt_strings(self) -> tuple[str, ...]:
        """The value cut into character-strings that fit a TXT record."""
        return tuple(
            self.value[start : start + _TXT_STRING_MAX]
            for start in range(0, len(self.value), _TXT_STRING_MAX)
        )


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    bits: int
    # PKCS#1 ("BEGIN RSA PRIVATE KEY") PEM: the one form dkimpy's signer reads.
    private_key_pem: bytes = field(repr=False)
    public_key_der: bytes = field(repr=False)  # SubjectPublicKeyInfo

    @property
    def record_name(self) -> str:
        return dkim_record_name(self.selector, self.domain)

    @property
    def txt_value(self) -> str:
        return dkim_txt_value(self.public_key_der)

    def txt_record(self) -> DnsRecord:
        """The TXT record for a domain that publishes the key itself."""
        return DnsRecord(self.record_name, "TXT", self.txt_value)

    def host_txt_record(self, host_domain: str = EASY_DKIM_HOST_DOMAIN) -> DnsRecord:
        """The TXT record at the Easy-DKIM CNAME's target."""
        return DnsRecord(f"{self.selector}.{_normal_domain(host_domain)}", "TXT", self.txt_value)

    def cname_record(self, host_domain: str = EASY_DKIM_HOST_DOMAIN) -> DnsRecord:
        """The Easy-DKIM CNAME the domain owner publishes for this key's token."""
        target = f"{self.selector}.{_normal_domain(host_domain)}"
        return DnsRecord(self.record_name, "CNAME", target)


@dataclass(frozen=True)
class EasyDkim:
    """A domain's Easy-DKIM set-up: three tokens, a key per token (selector = token)."""

    domain: str
    keys: tuple[DkimKey, ...]
    host_domain: str = EASY_DKIM_HOST_DOMAIN

    @property
    def tokens(self) -> tuple[str, ...]:
        """v1 `DkimTokens` / v2 `DkimAttributes.Tokens`."""
        return tuple(key.selector for key in self.keys)

    @property
    def signing_key(self) -> DkimKey:
        """The key to sign with; the others are there to rotate to."""
        return self.keys[0]

    def cname_records(self) -> tuple[DnsRecord, ...]:
        return tuple(key.cname_record(self.host_domain) for key in self.keys)

    def host_txt_records(self) -> tuple[DnsRecord, ...]:
        return tuple(key.host_txt_record(self.host_domain) for key in self.keys)


def key_bits(signing_key_length: str | None) -> int:
    """Bits for a v2 `DkimSigningKeyLength` (`RSA_1024_BIT` | `RSA_2048_BIT`); 2048
    when none is given, as SES defaults."""
    if signing_key_length is None:
        return DEFAULT_KEY_BITS
    try:
        return KEY_BITS_BY_SIGNING_KEY_LENGTH[signing_key_length]
    except KeyError:
        raise ValueError(f"unknown DkimSigningKeyLength {signing_key_length!r}") from None


def dkim_record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{_normal_domain(domain)}"


def dkim_txt_value(public_key_der: bytes) -> str:
    """`v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>` (RFC 6376 3.6.1)."""
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public_key_der).decode('ascii')}"


def new_token(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """An Easy-DKIM token: 32 lowercase base32 characters from 160 random bits."""
    return base64.b32encode(random_bytes(TOKEN_BYTES)).decode("ascii").lower()


def new_tokens(random_bytes: RandomBytes = secrets.token_bytes) -> tuple[str, ...]:
    """The three distinct Easy-DKIM tokens SES hands out for a domain."""
    tokens: list[str] = []
    while len(tokens) < EASY_DKIM_TOKEN_COUNT:
        token = new_token(random_bytes)
        if token not in tokens:  # a repeat would mean one CNAME for two keys
            tokens.append(token)
    return tuple(tokens)


def generate_key(domain: str, selector: str, bits: int = DEFAULT_KEY_BITS) -> DkimKey:
    """A new RSA key pair for `selector` at `domain` (1024 or 2048 bits, as SES offers)."""
    if bits not in KEY_BITS_BY_SIGNING_KEY_LENGTH.values():
        raise ValueError(f"DKIM keys are 1024 or 2048 bits, not {bits}")
    private_key = rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=bits)
    return _dkim_key(domain, selector, private_key)


def load_key(domain: str, selector: str, private_key: bytes) -> DkimKey:
    """A stored or imported key: PEM (PKCS#1 or PKCS#8) or base64 DER, the form BYODKIM's
    `DomainSigningPrivateKey` takes."""
    text = private_key.strip()
    if text.startswith(b"-----BEGIN"):
        loaded = serialization.load_pem_private_key(text, password=None)
    else:
        loaded = serialization.load_der_private_key(base64.b64decode(text), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("DKIM keys here are RSA keys")
    if loaded.key_size not in KEY_BITS_BY_SIGNING_KEY_LENGTH.values():
        raise ValueError(f"DKIM keys are 1024 or 2048 bits, not {loaded.key_size}")
    return _dkim_key(domain, selector, loaded)


def new_easy_dkim(
    domain: str,
    *,
    bits: int = DEFAULT_KEY_BITS,
    host_domain: str = EASY_DKIM_HOST_DOMAIN,
    random_bytes: RandomBytes = secrets.token_bytes,
) -> EasyDkim:
    """Tokens and keys for a domain identity, as CreateEmailIdentity / VerifyDomainDkim
    hand them out."""
    keys = tuple(generate_key(domain, token, bits) for token in new_tokens(random_bytes))
    return EasyDkim(_normal_domain(domain), keys, _normal_domain(host_domain))


def _dkim_key(domain: str, selector: str, private_key: rsa.RSAPrivateKey) -> DkimKey:
    if _SELECTOR.fullmatch(selector) is None:
        raise ValueError(f"not a DKIM selector: {selector!r}")
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1
        serialization.NoEncryption(),
    )
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(_normal_domain(domain), selector, private_key.key_size, private_pem, public_der)


def _normal_domain(domain: str) -> str:
    normal = domain.strip().rstrip(".").lower()
    if not normal or "@" in normal or " " in normal:
        raise ValueError(f"not a domain: {domain!r}")
    return normal
