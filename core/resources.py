"""The account's resources: identities, templates, configuration sets and account settings.

Each resource is a stream of its own (``identity/example.com``, ``template/Welcome``...) whose
events carry the resource's whole new state (``ResourceSaved``) or its removal
(``ResourceDeleted``), with who made the change. Folding a resource stream is therefore
"keep the last state", and an audit can still answer who changed what and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

IDENTITY: Final = "identity"
TEMPLATE: Final = "template"
CONFIGURATION_SET: Final = "configuration-set"
ACCOUNT: Final = "account"
ACCOUNT_NAME: Final = "settings"
SUPPRESSION: Final = "suppression"  # streams suppression/<address>, kept apart (see suppression)

EMAIL_ADDRESS: Final = "EMAIL_ADDRESS"
DOMAIN: Final = "DOMAIN"

# v2 VerificationStatus / DkimStatus values.
PENDING: Final = "PENDING"
SUCCESS: Final = "SUCCESS"
FAILED: Final = "FAILED"
TEMPORARY_FAILURE: Final = "TEMPORARY_FAILURE"
NOT_STARTED: Final = "NOT_STARTED"


class Resource(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=True):
    name: str
    created_at: datetime


class Dkim(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Easy-DKIM for a domain: the signing key sendtrail made and the records to publish."""

    selector: str
    public_key: str  # base64 DER SubjectPublicKeyInfo, as the DNS TXT record's p=
    private_key_sha256: str  # the PEM key lives in the content store, not in the event
    tokens: tuple[str, ...] = ()
    key_length: str = "RSA_2048_BIT"
    signing_enabled: bool = True
    status: str = PENDING


class Identity(Resource, frozen=True, kw_only=True, tag="identity"):
    identity_type: str
    verification_status: str = PENDING
    verification_token: str | None = None
    trusted: bool = False  # listed in [identities] verified: no DNS or email check needed
    dkim: Dkim | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    verification_error: str | None = None
    configuration_set: str | None = None
    feedback_forwarding: bool = True
    bounce_topic: str | None = None
    complaint_topic: str | None = None
    delivery_topic: str | None = None
    headers_in_bounce: bool = False
    headers_in_complaint: bool = False
    headers_in_delivery: bool = False

    @property
    def verified(self) -> bool:
        return self.trusted or self.verification_status == SUCCESS


class Template(Resource, frozen=True, kw_only=True, tag="template"):
    subject: str | None = None
    text: str | None = None
    html: str | None = None


class EventDestination(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    enabled: bool = True
    matching_event_types: tuple[str, ...] = ()
    sns_topic_arn: str | None = None


class ConfigurationSet(Resource, frozen=True, kw_only=True, tag="configuration-set"):
    sending_enabled: bool = True
    tls_policy: str = "OPTIONAL"
    max_delivery_seconds: int | None = None
    sending_pool: str | None = None
    # None: the account's suppression settings apply; a tuple (even empty) overrides them.
    suppressed_reasons: tuple[str, ...] | None = None
    reputation_metrics_enabled: bool = False
    event_destinations: tuple[EventDestination, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


class Account(Resource, frozen=True, kw_only=True, tag="account"):
    sending_enabled: bool = True
    suppressed_reasons: tuple[str, ...] = ("BOUNCE", "COMPLAINT")


AnyResource = Identity | Template | ConfigurationSet | Account

KIND_OF: Final[dict[type[Resource], str]] = {
    Identity: IDENTITY,
    Template: TEMPLATE,
    ConfigurationSet: CONFIGURATION_SET,
    Account: ACCOUNT,
}


def stream_id(kind: str, name: str) -> str:
    """Resource names are case-insensitive where SES treats them so (identities)."""
    return f"{kind}/{name.lower() if kind == IDENTITY else name}"


def split_stream_id(stream: str) -> tuple[str, str] | None:
    kind, slash, name = stream.partition("/")
    return (kind, name) if slash and kind in KIND_OF.values() else None
