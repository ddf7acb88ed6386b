"""v1 identities: verification, DKIM, listing, deletion and notification settings."""

from __future__ import annotations

from typing import Final

from sendtrail.adapters.account import AccountOperations
from sendtrail.core import resources as res
from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.errors import Condition, SesError

from .paging import page_of, page_size
from .v1_call import V1Call, V1Handler, V1Result
from .xml_out import XmlMap

MAX_ITEMS: Final = 1000  # BCv1 ListIdentities: MaxItems at most 1000
V1_STATUS: Final = {
    res.PENDING: "Pending",
    res.SUCCESS: "Success",
    res.FAILED: "Failed",
    res.TEMPORARY_FAILURE: "TemporaryFailure",
    res.NOT_STARTED: "NotStarted",
}
V1_IDENTITY_TYPES: Final = {"EmailAddress": res.EMAIL_ADDRESS, "Domain": res.DOMAIN}
NOTIFICATION_TOPIC: Final = {
    "Bounce": "bounce_topic",
    "Complaint": "complaint_topic",
    "Delivery": "delivery_topic",
}
HEADERS_IN_NOTIFICATIONS: Final = {
    "Bounce": "headers_in_bounce",
    "Complaint": "headers_in_complaint",
    "Delivery": "headers_in_delivery",
}


def invalid_identity(name: str) -> SesError:
    # Observed from SES (boto/boto3#2645) for an identity it does not know.
    return errors.bad_request(
        f"Identity {name} is invalid. Must be a verified email address or domain."
    )


def find(account: AccountOperations, name: str) -> res.Identity | None:
    try:
        return account.identity(name)
    except SesError as error:
        if error.condition is not Condition.NOT_FOUND:
            raise
        return None


def _existing_or_new(call: V1Call, name: str) -> res.Identity:
    """v1's Verify* calls may be repeated: they return the identity SES already has."""
    account = call.app.account
    return find(account, name) or account.create_identity(name, actor=call.caller)


async def verify_email_identity(call: V1Call) -> V1Result:
    address = _email_address(call.params.required("EmailAddress"))
    await call.context.manage(lambda: _existing_or_new(call, address))
    return {}


async def verify_email_address(call: V1Call) -> V1Result:
    """The deprecated form of ``VerifyEmailIdentity``; its response has no result element."""
    await verify_email_identity(call)
    return None


async def verify_domain_identity(call: V1Call) -> V1Result:
    domain = _domain(call.params.required("Domain"))
    identity = await call.context.manage(lambda: _existing_or_new(call, domain))
    return {"VerificationToken": identity.verification_token or ""}


async def verify_domain_dkim(call: V1Call) -> V1Result:
    domain = _domain(call.params.required("Domain"))

    def with_dkim() -> res.Identity:
        identity = _existing_or_new(call, domain)
        if identity.dkim is not None:
            return identity
        account = call.app.account
        dkim = account.make_dkim(identity.name, "RSA_2048_BIT")
        return account.update_identity(identity.name, actor=call.caller, dkim=dkim)

    identity = await call.context.manage(with_dkim)
    return {"DkimTokens": list(identity.dkim.tokens) if identity.dkim else []}


async def list_identities(call: V1Call) -> V1Result:
    params = call.params
    wanted = params.text("IdentityType")
    if wanted is not None and wanted not in V1_IDENTITY_TYPES:
        raise errors.bad_request(f"Invalid IdentityType: {wanted}")
    identities = call.app.account.identities(V1_IDENTITY_TYPES.get(wanted or ""))
    page, token = page_of(
        identities,
        lambda identity: identity.name,
        next_token=params.text("NextToken"),
        size=page_size(params.integer("MaxItems"), maximum=MAX_ITEMS, name="MaxItems"),
    )
    return {"Identities": [identity.name for identity in page], "NextToken": token}


async def get_identity_verification_attributes(call: V1Call) -> V1Result:
    attributes = XmlMap()
    for name in call.params.members("Identities"):
        identity = find(call.app.account, name)
        if identity is not None:  # SES leaves identities it does not know out of the map
            attributes[name] = {
                "VerificationStatus": v1_status(identity),
                "VerificationToken": identity.verification_token,
            }
    return {"VerificationAttributes": attributes}


async def get_identity_dkim_attributes(call: V1Call) -> V1Result:
    attributes = XmlMap()
    for name in call.params.members("Identities"):
        identity = find(call.app.account, name)
        if identity is None:
            continue
        dkim = identity.dkim
        attributes[name] = (
            {
                "DkimEnabled": dkim.signing_enabled,
                "DkimVerificationStatus": V1_STATUS.get(dkim.status, "Pending"),
                "DkimTokens": list(dkim.tokens),
            }
            if dkim is not None
            else {"DkimEnabled": False, "DkimVerificationStatus": "NotStarted"}
        )
    return {"DkimAttributes": attributes}


async def delete_identity(call: V1Call) -> V1Result:
    name = call.params.required("Identity")
    # v1 declares no error here: deleting an identity SES does not have succeeds.
    await call.context.manage(
        lambda: call.app.account.delete_identity(name, actor=call.caller, missing_ok=True)
    )
    return {}


async def set_identity_notification_topic(call: V1Call) -> V1Result:
    params = call.params
    name = params.required("Identity")
    kind = _notification_type(params.required("NotificationType"))
    topic = params.text("SnsTopic") or None  # left out: notifications of this type stop
    account = call.app.account

    def update() -> None:
        identity = find(account, name)
        if identity is None:
            raise invalid_identity(name)
        try:
            account.check_topic(topic)
        except SesError as error:
            # Observed: SES answers an unusable topic here with InvalidParameterValue.
            raise errors.bad_request(error.message) from None
        changes: dict[str, object] = {NOTIFICATION_TOPIC[kind]: topic}
        if topic is None and kind in ("Bounce", "Complaint"):
            # Without both topics, feedback can only travel by email: SES turns forwarding
            # back on, so the sender never loses bounces and complaints.
            changes["feedback_forwarding"] = True
        account.update_identity(identity.name, actor=call.caller, **changes)

    await call.context.manage(update)
    return {}


async def set_identity_feedback_forwarding_enabled(call: V1Call) -> V1Result:
    params = call.params
    name = params.required("Identity")
    enabled = params.flag("ForwardingEnabled", required=True)
    account = call.app.account

    def update() -> None:
        identity = find(account, name)
        if identity is None:
            raise invalid_identity(name)
        if not enabled and not (identity.bounce_topic and identity.complaint_topic):
            # BCv1: forwarding can be disabled only when SNS topics are set for both
            # bounces and complaints. Text UNCONFIRMED.
            raise errors.bad_request(
                f"Feedback forwarding cannot be disabled for identity {name}: SNS topics must "
                "be set for both bounce and complaint notifications first."
            )
        account.update_identity(identity.name, actor=call.caller, feedback_forwarding=enabled)

    await call.context.manage(update)
    return {}


async def set_identity_headers_in_notifications_enabled(call: V1Call) -> V1Result:
    params = call.params
    name = params.required("Identity")
    kind = _notification_type(params.required("NotificationType"))
    enabled = params.flag("Enabled", required=True)
    account = call.app.account

    def update() -> None:
        identity = find(account, name)
        if identity is None:
            raise invalid_identity(name)
        changes: dict[str, object] = {HEADERS_IN_NOTIFICATIONS[kind]: enabled}
        account.update_identity(identity.name, actor=call.caller, **changes)

    await call.context.manage(update)
    return {}


async def get_identity_notification_attributes(call: V1Call) -> V1Result:
    attributes = XmlMap()
    for name in call.params.members("Identities"):
        identity = find(call.app.account, name)
        if identity is not None:
            attributes[name] = {
                "BounceTopic": identity.bounce_topic,
                "ComplaintTopic": identity.complaint_topic,
                "DeliveryTopic": identity.delivery_topic,
                "ForwardingEnabled": identity.feedback_forwarding,
                "HeadersInBounceNotificationsEnabled": identity.headers_in_bounce,
                "HeadersInComplaintNotificationsEnabled": identity.headers_in_complaint,
                "HeadersInDeliveryNotificationsEnabled": identity.headers_in_delivery,
            }
    return {"NotificationAttributes": attributes}


def v1_status(identity: res.Identity) -> str:
    return "Success" if identity.verified else V1_STATUS.get(identity.verification_status, "")


def _notification_type(value: str) -> str:
    if value not in NOTIFICATION_TOPIC:
        raise errors.bad_request(
            f"Invalid NotificationType: {value}. Must be one of Bounce, Complaint, Delivery."
        )
    return value


def _email_address(value: str) -> str:
    # Text UNCONFIRMED.
    if "@" not in value.strip():
        raise errors.bad_request(f"Invalid email address <{value}>.")
    return value


def _domain(value: str) -> str:
    # Text UNCONFIRMED.
    if "@" in value or not value.strip():
        raise errors.bad_request(f"Invalid domain name <{value}>.")
    return value


ACTIONS: dict[str, V1Handler] = {
    "VerifyEmailIdentity": verify_email_identity,
    "VerifyEmailAddress": verify_email_address,
    "VerifyDomainIdentity": verify_domain_identity,
    "VerifyDomainDkim": verify_domain_dkim,
    "ListIdentities": list_identities,
    "GetIdentityVerificationAttributes": get_identity_verification_attributes,
    "GetIdentityDkimAttributes": get_identity_dkim_attributes,
    "DeleteIdentity": delete_identity,
    "SetIdentityNotificationTopic": set_identity_notification_topic,
    "SetIdentityFeedbackForwardingEnabled": set_identity_feedback_forwarding_enabled,
    "SetIdentityHeadersInNotificationsEnabled": set_identity_headers_in_notifications_enabled,
    "GetIdentityNotificationAttributes": get_identity_notification_attributes,
}
