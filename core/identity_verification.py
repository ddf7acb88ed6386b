"""How a domain identity's verification status follows from what DNS says (pure).

SES verifies a domain when it finds the TXT token at ``_amazonses.<domain>`` or the Easy-DKIM
records; sendtrail also accepts its own DKIM key published at ``<selector>._domainkey``.
A domain not found within 72 hours fails, and must be verified again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import msgspec

from .resources import FAILED, PENDING, SUCCESS, TEMPORARY_FAILURE, Dkim, Identity

GIVE_UP_AFTER: Final = timedelta(hours=72)


class DnsFindings(msgspec.Struct, frozen=True, kw_only=True):
    """What the lookups returned; ``error`` is a v2 ``VerificationInfo.ErrorType`` or None."""

    txt_records: tuple[str, ...] = ()  # at _amazonses.<domain>
    dkim_cnames: tuple[str, ...] = ()  # targets of <token>._domainkey.<domain>, in token order
    dkim_txt: tuple[str, ...] = ()  # at <selector>._domainkey.<domain>
    error: str | None = None


def verification_record_name(domain: str) -> str:
    return f"_amazonses.{domain}"


def dkim_record_names(domain: str, dkim: Dkim) -> dict[str, str]:
    """The records a domain owner publishes for Easy DKIM, name → value."""
    records = {
        f"{token}._domainkey.{domain}": f"{token}.dkim.amazonses.com" for token in dkim.tokens
    }
    records[f"{dkim.selector}._domainkey.{domain}"] = f"v=DKIM1; k=rsa; p={dkim.public_key}"
    return records


def dkim_found(dkim: Dkim | None, findings: DnsFindings) -> bool:
    if dkim is None:
        return False
    cnames_ok = bool(dkim.tokens) and tuple(
        target.rstrip(".").lower() for target in findings.dkim_cnames
    ) == tuple(f"{token}.dkim.amazonses.com" for token in dkim.tokens)
    key_ok = any(f"p={dkim.public_key}" in record.replace(" ", "") for record in findings.dkim_txt)
    return cnames_ok or key_ok


def checked(identity: Identity, findings: DnsFindings, now: datetime) -> Identity:
    """The identity after a DNS check at ``now``."""
    token_ok = identity.verification_token is not None and any(
        record.strip().strip('"') == identity.verification_token for record in findings.txt_records
    )
    signing_ok = dkim_found(identity.dkim, findings)
    if token_ok or signing_ok:
        status, error = SUCCESS, None
    elif findings.error == "DNS_SERVER_ERROR":
        status, error = TEMPORARY_FAILURE, findings.error
    elif now - identity.created_at >= GIVE_UP_AFTER:
        status, error = FAILED, findings.error or "TYPE_NOT_FOUND"
    else:
        status, error = PENDING, findings.error
    dkim = identity.dkim
    if dkim is not None:
        dkim = msgspec.structs.replace(dkim, status=SUCCESS if signing_ok else dkim.status)
    return msgspec.structs.replace(
        identity,
        verification_status=status,
        verification_error=error,
        last_checked_at=now,
        last_success_at=now if status == SUCCESS else identity.last_success_at,
        dkim=dkim,
    )
