"""The envelope sender (MAIL FROM) of a message: a VERP address that names the message,
so any bounce that comes back to it says which message it is about without parsing it.

SES does the same: its default MAIL FROM is `<message-id>@<region-specific subdomain of
amazonses.com>`, and the delivered copy's Return-Path shows it (reference 1.7)."""

from __future__ import annotations

from sendtrail.core import ids


def verp_address(message_id: str, feedback_domain: str) -> str:
    """`<message-id>@<feedback domain>`, e.g.
    `0100018321f34295-...-000000@feedback.example.com`."""
    if not ids.is_message_id(message_id):
        raise ValueError(f"not a message id: {message_id!r}")
    domain = feedback_domain.strip().rstrip(".").lower()
    if not domain or "@" in domain:
        raise ValueError(f"not a domain: {feedback_domain!r}")
    return f"{message_id}@{domain}"


def message_id_from_verp(address: str, feedback_domain: str) -> str | None:
    """The message id a VERP address names, or None when it is not one of ours."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    expected = feedback_domain.strip().rstrip(".").lower()
    if not at or domain.lower() != expected or not ids.is_message_id(local):
        return None
    return local
