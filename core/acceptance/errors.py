"""SES's send-time errors, one constructor per condition.

Each constructor returns a `SesError` whose `detail` carries everything a surface needs to
reproduce what SES would say: the v1 Query `<Code>`, the v2 REST error type and HTTP status,
the message text, the SMTP reply and the per-entry `BulkEmailStatus` of both APIs.

Texts marked UNCONFIRMED are not in any source we have; each one is the most plausible
wording given the texts SES is seen to use, and the comment says why.

Surfaces must escape the message themselves: v1 XML-escapes it (`Sendportal &lt;a@x&gt;`),
v2 JSON-encodes it, SMTP sends `smtp_reply` as is.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import msgspec


class Condition(enum.StrEnum):
    """Why a send was refused; stable names for events, metrics and tests."""

    UNVERIFIED_IDENTITY = "unverified_identity"
    RATE_EXCEEDED = "rate_exceeded"
    DAILY_QUOTA_EXCEEDED = "daily_quota_exceeded"
    ACCOUNT_PAUSED = "account_paused"
    ACCOUNT_PAUSED_BY_ENFORCEMENT = "account_paused_by_enforcement"
    ACCOUNT_SUSPENDED = "account_suspended"
    CONFIGURATION_SET_PAUSED = "configuration_set_paused"
    CONFIGURATION_SET_MISSING = "configuration_set_missing"
    TEMPLATE_MISSING = "template_missing"
    MAIL_FROM_DOMAIN_NOT_VERIFIED = "mail_from_domain_not_verified"
    TOO_MANY_RECIPIENTS = "too_many_recipients"
    NO_RECIPIENTS = "no_recipients"
    MESSAGE_TOO_LONG = "message_too_long"
    LINE_TOO_LONG = "line_too_long"
    MISSING_HEADER_SEPARATOR = "missing_header_separator"
    MISSING_REQUIRED_HEADER = "missing_required_header"
    DUPLICATE_HEADER = "duplicate_header"
    UNSUPPORTED_ATTACHMENT = "unsupported_attachment"
    MALFORMED_MULTIPART = "malformed_multipart"
    INVALID_ADDRESS = "invalid_address"
    NON_ASCII_ADDRESS = "non_ascii_address"
    INVALID_TEMPLATE_DATA = "invalid_template_data"
    TEMPLATE_DATA_TOO_LONG = "template_data_too_long"
    MISSING_RENDERING_ATTRIBUTE = "missing_rendering_attribute"
    INVALID_TEMPLATE = "invalid_template"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    BAD_REQUEST = "bad_request"
    INVALID_CONTENT = "invalid_content"


class BulkEmailStatus(msgspec.Struct, frozen=True):
    """The per-destination status a bulk send reports instead of failing the whole call."""

    v1: str
    v2: str


# Only the statuses a condition here can produce; names copied from BCv1/BCv2.
BULK_MESSAGE_REJECTED = BulkEmailStatus("MessageRejected", "MESSAGE_REJECTED")
BULK_MAIL_FROM_NOT_VERIFIED = BulkEmailStatus(
    "MailFromDomainNotVerified", "MAIL_FROM_DOMAIN_NOT_VERIFIED"
)
BULK_CONFIGURATION_SET_MISSING = BulkEmailStatus(
    "ConfigurationSetDoesNotExist", "CONFIGURATION_SET_NOT_FOUND"
)
BULK_TEMPLATE_MISSING = BulkEmailStatus("TemplateDoesNotExist", "TEMPLATE_NOT_FOUND")
BULK_ACCOUNT_SUSPENDED = BulkEmailStatus("AccountSuspended", "ACCOUNT_SUSPENDED")
BULK_ACCOUNT_THROTTLED = BulkEmailStatus("AccountThrottled", "ACCOUNT_THROTTLED")
BULK_DAILY_QUOTA_EXCEEDED = BulkEmailStatus(
    "AccountDailyQuotaExceeded", "ACCOUNT_DAILY_QUOTA_EXCEEDED"
)
BULK_ACCOUNT_PAUSED = BulkEmailStatus("AccountSendingPaused", "ACCOUNT_SENDING_PAUSED")
BULK_CONFIGURATION_SET_PAUSED = BulkEmailStatus(
    "ConfigurationSetSendingPaused", "CONFIGURATION_SET_SENDING_PAUSED"
)
BULK_INVALID_PARAMETER = BulkEmailStatus("InvalidParameterValue", "INVALID_PARAMETER")


class SesErrorDetail(msgspec.Struct, frozen=True):
    """Everything about one refusal, as plain data so it can go into an event."""

    condition: Condition
    code: str  # v1 Query <Code>; every v1 send error is HTTP 400, <Type>Sender</Type>
    message: str
    v2_type: str  # v2 x-amzn-ErrorType
    v2_status: int
    smtp_reply: str
    bulk_status: BulkEmailStatus | None = None  # None for errors of management calls
    v1_status: int = 400


class SesError(Exception):
    """A send SES would refuse. Read `detail` (or the shortcuts) to answer on any surface."""

    def __init__(self, detail: SesErrorDetail) -> None:
        super().__init__(f"{detail.code}: {detail.message}")
        self.detail = detail

    @property
    def condition(self) -> Condition:
        return self.detail.condition

    @property
    def code(self) -> str:
        return self.detail.code

    @property
    def message(self) -> str:
        return self.detail.message

    @property
    def v2_type(self) -> str:
        return self.detail.v2_type

    @property
    def v2_status(self) -> int:
        return self.detail.v2_status

    @property
    def smtp_reply(self) -> str:
        return self.detail.smtp_reply

    @property
    def bulk_status(self) -> BulkEmailStatus | None:
        return self.detail.bulk_status


# Over SMTP SES reports an identity or pause refusal as "Message rejected" and a problem
# with the message itself (the API's InvalidParameterValue family) as "Transaction failed";
# both prefixes are observed (reference 1.5, 1.6).
def _rejected(message: str) -> str:
    return f"554 Message rejected: {message}"


def _failed(message: str) -> str:
    return f"554 Transaction failed: {message}"


def _invalid_parameter(
    condition: Condition, message: str, *, v2_type: str = "BadRequestException"
) -> SesError:
    # v2 has no InvalidParameterValue: a bad request field is BadRequestException, while
    # "invalid content" is what BCv2 documents for MessageRejected, so content rules pass
    # v2_type="MessageRejected". Both choices are UNCONFIRMED for v2.
    return SesError(
        SesErrorDetail(
            condition=condition,
            code="InvalidParameterValue",
            message=message,
            v2_type=v2_type,
            v2_status=400,
            smtp_reply=_failed(message),
            bulk_status=BULK_INVALID_PARAMETER,
        )
    )


# --- identities ---------------------------------------------------------------------------

DEFAULT_MAX_LISTED_IDENTITIES = 10


def unverified_identities(
    region: str,
    identities: Iterable[str],
    *,
    max_listed: int = DEFAULT_MAX_LISTED_IDENTITIES,
) -> SesError:
    """`Email address is not verified. ... in region US-EAST-1: a@x, b@y`.

    Identities are printed as given (display name included), once each, in order. SES ends
    the message with an ellipsis when not every identity fits; how many fit is UNCONFIRMED,
    so the cut is `max_listed` identities and the ellipsis follows the last one shown.
    """
    unique = list(dict.fromkeys(identity.strip() for identity in identities))
    listed = ", ".join(unique[:max_listed])
    if len(unique) > max_listed:
        listed += "..."
    message = (
        "Email address is not verified. The following identities failed the check "
        f"in region {region.upper()}: {listed}"
    )
    return SesError(
        SesErrorDetail(
            condition=Condition.UNVERIFIED_IDENTITY,
            code="MessageRejected",
            message=message,
            v2_type="MessageRejected",
            v2_status=400,
            smtp_reply=_rejected(message),
            bulk_status=BULK_MESSAGE_REJECTED,
        )
    )


def mail_from_domain_not_verified() -> SesError:
    # Text UNCONFIRMED: the DG names the condition "Mail FROM domain is not verified";
    # SES's own messages end with a period.
    message = "Mail FROM domain is not verified."
    return SesError(
        SesErrorDetail(
            condition=Condition.MAIL_FROM_DOMAIN_NOT_VERIFIED,
            code="MailFromDomainNotVerifiedException",
            message=message,
            v2_type="MailFromDomainNotVerifiedException",
            v2_status=400,
            smtp_reply=_rejected(message),
            bulk_status=BULK_MAIL_FROM_NOT_VERIFIED,
        )
    )


# --- quotas -------------------------------------------------------------------------------


def rate_exceeded() -> SesError:
    message = "Maximum sending rate exceeded."
    return SesError(
        SesErrorDetail(
            condition=Condition.RATE_EXCEEDED,
            code="Throttling",
            message=message,
            v2_type="TooManyRequestsException",
            v2_status=429,
            smtp_reply=f"454 Throttling failure: {message}",
            bulk_status=BULK_ACCOUNT_THROTTLED,
        )
    )


def daily_quota_exceeded() -> SesError:
    # The trailing period mirrors the observed rate message. The v2 shape is UNCONFIRMED:
    # LimitExceededException/400 is what third-party tests assume (reference 1.4).
    message = "Daily message quota exceeded."
    return SesError(
        SesErrorDetail(
            condition=Condition.DAILY_QUOTA_EXCEEDED,
            code="Throttling",
            message=message,
            v2_type="LimitExceededException",
            v2_status=400,
            smtp_reply=f"454 Throttling failure: {message}",
            bulk_status=BULK_DAILY_QUOTA_EXCEEDED,
        )
    )


# --- account and configuration set state --------------------------------------------------


def account_paused() -> SesError:
    """Sending disabled by the account owner (`UpdateAccountSendingEnabled`)."""
    # Text UNCONFIRMED: reuses the observed SMTP wording of a pause.
    message = "Sending paused for this account."
    return SesError(
        SesErrorDetail(
            condition=Condition.ACCOUNT_PAUSED,
            code="AccountSendingPausedException",
            message=message,
            v2_type="SendingPausedException",
            v2_status=400,
            smtp_reply=_rejected(message),
            bulk_status=BULK_ACCOUNT_PAUSED,
        )
    )


def account_paused_by_enforcement() -> SesError:
    """Sending paused by AWS after a review; observed as MessageRejected on v1."""
    message = (
        "Sending paused for this account. For more information, please check the inbox "
        "of the email address associated with your AWS account."
    )
    return SesError(
        SesErrorDetail(
            condition=Condition.ACCOUNT_PAUSED_BY_ENFORCEMENT,
            code="MessageRejected",
            message=message,
            # v2 UNCONFIRMED: SendingPausedException is the v2 shape documented for a pause.
            v2_type="SendingPausedException",
            v2_status=400,
            smtp_reply=_rejected("Sending paused for this account."),
            bulk_status=BULK_ACCOUNT_PAUSED,
        )
    )


def account_suspended() -> SesError:
    # v1 has no suspension shape, so MessageRejected; the text is BCv2's description of
    # AccountSuspendedException. Both UNCONFIRMED.
    message = "The account's ability to send email has been permanently restricted."
    return SesError(
        SesErrorDetail(
            condition=Condition.ACCOUNT_SUSPENDED,
            code="MessageRejected",
            message=message,
            v2_type="AccountSuspendedException",
            v2_status=400,
            smtp_reply=_rejected(message),
            bulk_status=BULK_ACCOUNT_SUSPENDED,
        )
    )


def configuration_set_paused(name: str) -> SesError:
    # Text UNCONFIRMED: modelled on the account pause text and on SES's habit of naming a
    # resource in angle brackets ("SendingPool <pool1> doesn't exist").
    message = f"Sending paused for configuration set <{name}>."
    return SesError(
        SesErrorDetail(
            condition=Condition.CONFIGURATION_SET_PAUSED,
            code="ConfigurationSetSendingPausedException",
            message=message,
            v2_type="SendingPausedException",
            v2_status=400,
            smtp_reply=_rejected(message),
            bulk_status=BULK_CONFIGURATION_SET_PAUSED,
        )
    )


def configuration_set_missing(name: str) -> SesError:
    # Observed as "Configuration set <NAME> does not exist."; whether the brackets are
    # literal is UNCONFIRMED, and SES writes other resource names in literal brackets.
    # v2 has no such shape: NotFoundException/404 (UNCONFIRMED).
    message = f"Configuration set <{name}> does not exist."
    return SesError(
        SesErrorDetail(
            condition=Condition.CONFIGURATION_SET_MISSING,
            code="ConfigurationSetDoesNotExist",
            message=message,
            v2_type="NotFoundException",
            v2_status=404,
            smtp_reply=_failed(message),
            bulk_status=BULK_CONFIGURATION_SET_MISSING,
        )
    )


# --- templates ----------------------------------------------------------------------------


def template_missing(name: str) -> SesError:
    # Observed (serverless-ses-template#5): "Template <name> does not exist", bare name,
    # no period.
    message = f"Template {name} does not exist"
    return SesError(
        SesErrorDetail(
            condition=Condition.TEMPLATE_MISSING,
            code="TemplateDoesNotExist",
            message=message,
            v2_type="NotFoundException",
            v2_status=404,
            smtp_reply=_failed(message),
            bulk_status=BULK_TEMPLATE_MISSING,
        )
    )


def invalid_template_data() -> SesError:
    """TemplateData that is not a JSON object. TestRenderTemplate names this condition
    `InvalidRenderingParameter`; a surface serving that operation maps it by `condition`."""
    # Text UNCONFIRMED.
    return _invalid_parameter(
        Condition.INVALID_TEMPLATE_DATA, "Template data must be a valid JSON object."
    )


def template_data_too_long(limit: int) -> SesError:
    # AWS's generic text for a member over its modelled maximum length (the value itself,
    # which AWS quotes for short members, is left out: it is up to 256 KiB here).
    message = (
        "1 validation error detected: Value at 'templateData' failed to satisfy "
        f"constraint: Member must have length less than or equal to {limit}"
    )
    return SesError(
        SesErrorDetail(
            condition=Condition.TEMPLATE_DATA_TOO_LONG,
            code="ValidationError",
            message=message,
            v2_type="BadRequestException",
            v2_status=400,
            smtp_reply=_failed(message),
            bulk_status=BULK_INVALID_PARAMETER,
        )
    )


def missing_rendering_attribute(attribute: str) -> SesError:
    """A `{{attribute}}` with no value. For sends SES accepts the message and publishes a
    Rendering Failure event (`failure.errorMessage` is `message`, `failure.templateName`
    comes from the caller); TestRenderTemplate returns this error."""
    message = f"Attribute '{attribute}' is not present in the rendering data."
    return SesError(
        SesErrorDetail(
            condition=Condition.MISSING_RENDERING_ATTRIBUTE,
            code="MissingRenderingAttribute",
            message=message,
            v2_type="BadRequestException",
            v2_status=400,
            smtp_reply=_failed(message),
            bulk_status=BULK_INVALID_PARAMETER,
        )
    )


def invalid_template(template_name: str, reason: str) -> SesError:
    """A template SES cannot render at all (syntax, unknown partial or helper)."""
    # Text UNCONFIRMED: BCv1 only says "could not be rendered", e.g. a missing partial.
    message = f"Template {template_name} could not be rendered: {reason}"
    return SesError(
        SesErrorDetail(
            condition=Condition.INVALID_TEMPLATE,
            code="InvalidTemplate",
            message=message,
            v2_type="BadRequestException",
            v2_status=400,
            smtp_reply=_failed(message),
            bulk_status=BULK_INVALID_PARAMETER,
        )
    )


# --- recipients ---------------------------------------------------------------------------


def too_many_recipients() -> SesError:
    return _invalid_parameter(Condition.TOO_MANY_RECIPIENTS, "Recipient count exceeds 50.")


def no_recipients() -> SesError:
    # Code and punctuation UNCONFIRMED: the DG names the condition "There are no
    # recipients specified"; a missing input is InvalidParameterValue elsewhere in SES.
    return _invalid_parameter(Condition.NO_RECIPIENTS, "There are no recipients specified.")


# --- addresses ----------------------------------------------------------------------------


def non_ascii_address() -> SesError:
    return _invalid_parameter(
        Condition.NON_ASCII_ADDRESS, "There are non-ASCII characters in the email address"
    )


def invalid_address(reason: str) -> SesError:
    """A malformed address. `reason` is the parser's text, e.g. `Missing domain`.

    SES's observed texts are those of JavaMail's InternetAddress, which `addresses` follows,
    so the reason passes through unchanged.
    """
    return _invalid_parameter(Condition.INVALID_ADDRESS, reason)


def missing_final_domain() -> SesError:
    return invalid_address("Missing final '@domain'")


def missing_domain() -> SesError:
    return invalid_address("Missing domain")


def local_address_control_or_whitespace() -> SesError:
    return invalid_address("Local address contains control or whitespace")


def domain_control_or_whitespace() -> SesError:
    return invalid_address("Domain contains control or whitespace")


def local_address_illegal_character() -> SesError:
    return invalid_address("Local address contains illegal character")


def domain_illegal_character() -> SesError:
    return invalid_address("Domain contains illegal character")


def illegal_address() -> SesError:
    return invalid_address("Illegal address")


# --- message content ----------------------------------------------------------------------


def message_too_long(size: int, limit: int) -> SesError:
    """Over the surface's size limit; the v1 text is observed, v2 reuses it with its limit."""
    message = f"Message length is more than {limit} bytes long: '{size}'."
    return SesError(
        SesErrorDetail(
            condition=Condition.MESSAGE_TOO_LONG,
            code="InvalidParameterValue",
            message=message,
            v2_type="MessageRejected",
            v2_status=400,
            smtp_reply="552 Message is too long.",
            bulk_status=BULK_INVALID_PARAMETER,
        )
    )


def line_too_long() -> SesError:
    # Text UNCONFIRMED; states the RFC 5321 rule the BCv1 doc cites.
    return _invalid_parameter(
        Condition.LINE_TOO_LONG,
        "Line length exceeds 1000 characters, including the <CRLF>.",
        v2_type="MessageRejected",
    )


def missing_header_separator() -> SesError:
    # Text UNCONFIRMED; states the BCv1/BCv2 RawMessage rule.
    return _invalid_parameter(
        Condition.MISSING_HEADER_SEPARATOR,
        "The message has to contain a header and a body, separated by a blank line.",
        v2_type="MessageRejected",
    )


def missing_required_header(name: str) -> SesError:
    # Text UNCONFIRMED; shaped like the observed "Duplicate header 'X'." text.
    return _invalid_parameter(
        Condition.MISSING_REQUIRED_HEADER,
        f"Missing required header '{name}'.",
        v2_type="MessageRejected",
    )


def duplicate_header(name: str) -> SesError:
    return _invalid_parameter(
        Condition.DUPLICATE_HEADER, f"Duplicate header '{name}'.", v2_type="MessageRejected"
    )


def unsupported_attachment(filename: str) -> SesError:
    # Code and text UNCONFIRMED. SES reported its old content-type ban as
    # "InvalidParameterValue: Illegal content type 'text/csv'", so a banned file name is
    # given the same code and shape rather than the MessageRejected the reference guesses.
    return _invalid_parameter(
        Condition.UNSUPPORTED_ATTACHMENT,
        f"Illegal filename '{filename}'.",
        v2_type="MessageRejected",
    )


def malformed_multipart(reason: str) -> SesError:
    """A multipart body SES cannot split; `reason` is JavaMail's text, e.g.
    `Missing start boundary` (UNCONFIRMED as SES output)."""
    return _invalid_parameter(Condition.MALFORMED_MULTIPART, reason, v2_type="MessageRejected")


# --- management calls (identities, templates, configuration sets) --------------------------


def not_found(message: str, *, v1_code: str = "NotFoundException") -> SesError:
    """A named resource that does not exist: v2 NotFoundException/404."""
    return SesError(
        SesErrorDetail(
            condition=Condition.NOT_FOUND,
            code=v1_code,
            message=message,
            v2_type="NotFoundException",
            v2_status=404,
            smtp_reply=_failed(message),
        )
    )


def already_exists(message: str, *, v1_code: str = "AlreadyExists") -> SesError:
    """Creating what exists: v2 AlreadyExistsException/400 (v1 ``AlreadyExists``)."""
    return SesError(
        SesErrorDetail(
            condition=Condition.ALREADY_EXISTS,
            code=v1_code,
            message=message,
            v2_type="AlreadyExistsException",
            v2_status=400,
            smtp_reply=_failed(message),
        )
    )


def bad_request(message: str, *, v1_code: str = "InvalidParameterValue") -> SesError:
    """A malformed management request: v2 BadRequestException/400."""
    return SesError(
        SesErrorDetail(
            condition=Condition.BAD_REQUEST,
            code=v1_code,
            message=message,
            v2_type="BadRequestException",
            v2_status=400,
            smtp_reply=_failed(message),
        )
    )


def invalid_content(field: str, reason: str) -> SesError:
    """A formatted message's field outside SES's constraints (v2 Headers, Attachments,
    a text its charset cannot encode): caught at acceptance, before anything is built."""
    return _invalid_parameter(Condition.INVALID_CONTENT, f"{field}: {reason}")
