"""SMTP AUTH credentials: an access key id with its secret, or SES's derived SMTP password.

SES's SMTP password (reference 1.6, DG:smtp-credentials) is a SigV4-style signing key chain
over fixed inputs, so it can be recomputed from the secret alone:

    key = HMAC-SHA256 chain ("AWS4" + secret) -> "11111111" -> region -> "ses"
          -> "aws4_request" -> "SendRawEmail"
    password = base64(0x04 || key)

Both the secret and the derived password are accepted, so clients configured either way work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from sendtrail.adapters.config import Credentials

_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = b"\x04"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password for ``secret_access_key`` in ``region``."""
    signature = ("AWS4" + secret_access_key).encode("utf-8")
    for step in (_DATE, region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _hmac(signature, step)
    return base64.b64encode(_VERSION + signature).decode("ascii")


class _Account:
    __slots__ = ("access_key_id", "passwords")

    def __init__(self, access_key_id: bytes, passwords: tuple[bytes, ...]) -> None:
        self.access_key_id = access_key_id
        self.passwords = passwords

    def __repr__(self) -> str:
        return f"_Account(access_key_id={self.access_key_id!r}, passwords='***')"


class CredentialChecker:
    """Answers "is this username/password pair one of ours?" in constant time.

    Every configured account and both of its passwords are compared on every attempt, and
    comparisons use ``hmac.compare_digest``, so the time taken says nothing about which key
    ids exist or how much of a password matched.
    """

    def __init__(self, credentials: Iterable[Credentials], region: str) -> None:
        self._accounts = tuple(
            _Account(
                c.access_key_id.encode("utf-8"),
                (
                    c.secret_access_key.encode("utf-8"),
                    smtp_password(c.secret_access_key, region).encode("ascii"),
                ),
            )
            for c in credentials
        )

    def __repr__(self) -> str:
        return f"CredentialChecker(accounts={len(self._accounts)})"

    def check(self, username: bytes, password: bytes) -> str | None:
        """The access key id when the pair is valid, else None."""
        matched: str | None = None
        for account in self._accounts:
            user_ok = hmac.compare_digest(account.access_key_id, username)
            password_ok = False
            for candidate in account.passwords:
                password_ok |= hmac.compare_digest(candidate, password)
            if user_ok and password_ok and matched is None:
                matched = account.access_key_id.decode("utf-8")
        return matched
