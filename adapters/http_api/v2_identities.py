"""v2 email identities: create, get, list, delete, feedback forwarding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sendtrail.core import resources as res
from sendtrail.core.acceptance import errors

from .paging import page_of, page_size
from .v2_call import Route, Shape, Tag, V2Call

MAX_PAGE_SIZE = 1000  # BCv2 ListEmailIdentities: PageSize at most 1000


class DkimSigningAttributes(Shape, frozen=True):
    domain_signing_selector: str | None = None
    domain_signing_private_key: str | None = None
    next_signing_key_length: Literal["RSA_1024_BIT", "RSA_2048_BIT"] | None = None


class CreateEmailIdentityRequest(Shape, frozen=True):
    email_identity: str
    tags: list[Tag] = []
    dkim_signing_attributes: DkimSigningAttributes | None = None
    configuration_set_name: str | None = None


class ListEmailIdentitiesRequest(Shape, frozen=True):
    filter: dict[str, str] = {}
    next_token: str | None = None
    page_size: int | None = None


class FeedbackAttributes(Shape, frozen=True):
    # An omitted boolean is false on AWS's side too.
    email_forwarding_enabled: bool = False


async def create_email_identity(call: V2Call) -> Mapping[str, object]:
    body = await call.body(CreateEmailIdentityRequest)
    signing = body.dkim_signing_attributes
    if signing is not None and (
        signing.domain_signing_private_key or signing.domain_signing_selector
    ):
        raise errors.bad_request(
            "Bring-your-own DKIM (DomainSigningSelector, DomainSigningPrivateKey) is not "
            "supported; leave DkimSigningAttributes out to use Easy DKIM."
        )
    key_length = (signing.next_signing_key_length if signing else None) or "RSA_2048_BIT"
    account = call.app.account

    def create() -> res.Identity:
        if body.configuration_set_name is not None:
            account.configuration_set(body.configuration_set_name)  # NotFoundException first
        identity = account.create_identity(
            body.email_identity, actor=call.caller, key_length=key_length
        )
        if body.configuration_set_name is not None:
            identity = account.update_identity(
                identity.name, actor=call.caller, configuration_set=body.configuration_set_name
            )
        return account.identity(identity.name)

    identity = await call.context.manage(create)
    return {
        "IdentityType": identity.identity_type,
        "VerifiedForSendingStatus": identity.verified,
        "DkimAttributes": dkim_attributes(identity),
    }


async def get_email_identity(call: V2Call) -> Mapping[str, object]:
    identity = call.app.account.identity(call.path("EmailIdentity"))
    return {
        "IdentityType": identity.identity_type,
        "FeedbackForwardingStatus": identity.feedback_forwarding,
        "VerifiedForSendingStatus": identity.verified,
        "DkimAttributes": dkim_attributes(identity),
        "Policies": {},
        "Tags": [],
        "ConfigurationSetName": identity.configuration_set,
        "VerificationStatus": _verification_status(identity),
        "VerificationInfo": {
            "LastCheckedTimestamp": identity.last_checked_at,
            "LastSuccessTimestamp": identity.last_success_at,
            "ErrorType": identity.verification_error,
        },
    }


async def list_email_identities(call: V2Call) -> Mapping[str, object]:
    """Older botocore: ``GET /v2/email/identities?NextToken=&PageSize=``; newer:
    ``POST /v2/email/list-identities`` with the same members (and ``Filter``) in the body."""
    if call.request.method == "GET":
        query = ListEmailIdentitiesRequest(
            next_token=call.query("NextToken"), page_size=call.query_int("PageSize")
        )
    else:
        query = await call.body(ListEmailIdentitiesRequest)
    identities = [i for i in call.app.account.identities() if _matches(i, query.filter)]
    page, token = page_of(
        identities,
        lambda identity: identity.name,
        next_token=query.next_token,
        size=page_size(query.page_size, maximum=MAX_PAGE_SIZE),
    )
    return {
        "EmailIdentities": [
            {
                "IdentityType": identity.identity_type,
                "IdentityName": identity.name,
                "SendingEnabled": identity.verified,
                "VerificationStatus": _verification_status(identity),
            }
            for identity in page
        ],
        "NextToken": token,
    }


async def delete_email_identity(call: V2Call) -> Mapping[str, object]:
    name = call.path("EmailIdentity")
    await call.context.manage(lambda: call.app.account.delete_identity(name, actor=call.caller))
    return {}


async def put_email_identity_feedback_attributes(call: V2Call) -> Mapping[str, object]:
    name = call.path("EmailIdentity")
    body = await call.body(FeedbackAttributes)
    await call.context.manage(
        lambda: call.app.account.update_identity(
            name, actor=call.caller, feedback_forwarding=body.email_forwarding_enabled
        )
    )
    return {}


def dkim_attributes(identity: res.Identity) -> dict[str, object]:
    dkim = identity.dkim
    if dkim is None:
        # An address signs with its domain's key, if any; it has none of its own.
        return {"SigningEnabled": False, "Status": res.NOT_STARTED, "Tokens": []}
    return {
        "SigningEnabled": dkim.signing_enabled,
        "Status": dkim.status,
        "Tokens": list(dkim.tokens),
        "SigningAttributesOrigin": "AWS_SES",
        "NextSigningKeyLength": dkim.key_length,
        "CurrentSigningKeyLength": dkim.key_length,
        "LastKeyGenerationTimestamp": identity.created_at,
    }


def _verification_status(identity: res.Identity) -> str:
    return res.SUCCESS if identity.verified else identity.verification_status


def _matches(identity: res.Identity, filters: Mapping[str, str]) -> bool:
    for key, value in filters.items():
        if key == "IDENTITY_NAME_CONTAINS" and value.lower() not in identity.name.lower():
            return False
        if key == "IDENTITY_TYPE" and value != identity.identity_type:
            return False
        if key == "VERIFICATION_STATUS" and value != _verification_status(identity):
            return False
        if key not in ("IDENTITY_NAME_CONTAINS", "IDENTITY_TYPE", "VERIFICATION_STATUS"):
            raise errors.bad_request(f"Invalid filter key: {key}")
    return True


ROUTES = [
    Route("POST", "/v2/email/identities", create_email_identity),
    Route("GET", "/v2/email/identities", list_email_identities),
    Route("POST", "/v2/email/list-identities", list_email_identities),
    Route("GET", "/v2/email/identities/{EmailIdentity}", get_email_identity),
    Route("DELETE", "/v2/email/identities/{EmailIdentity}", delete_email_identity),
    Route(
        "PUT", "/v2/email/identities/{EmailIdentity}/feedback",
        put_email_identity_feedback_attributes,
    ),
]  # fmt: skip
