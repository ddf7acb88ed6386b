"""Signatures on webhook requests.

Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id``, ``webhook-timestamp``
(unix seconds of the attempt) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of
``{id}.{timestamp}.{body}``. A secret starting ``whsec_`` is the base64 of the key; any other
secret is the key's UTF-8 bytes. Without a secret there is nothing to sign with, and the
signature header is left out.

The SNS envelope's ``Signature`` is not AWS's (an RSA signature checked against AWS's
certificate): it is the same HMAC over SNS's string to sign, keyed by the topic's secret.
Verify ``webhook-signature`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"


def webhook_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    return secret.encode("utf-8")


def webhook_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def webhook_headers(
    message_id: str, timestamp: int, body: bytes, secret: str | None
) -> dict[str, str]:
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = webhook_signature(secret, message_id, timestamp, body)
    return headers


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: the signature matches one of the listed ones, and the
    timestamp is recent (a replayed request is refused)."""
    message_id = headers["webhook-id"]
    timestamp = int(headers["webhook-timestamp"])
    if abs(now - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, message_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )


def sns_signature(secret: str | None, fields: Mapping[str, str | None]) -> str:
    """HMAC-SHA256 over SNS's string to sign for a Notification (not an AWS signature)."""
    text = "".join(
        f"{name}\n{fields[name]}\n"
        for name in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        if fields.get(name) is not None
    )
    key = webhook_key(secret) if secret else b""
    return base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()
