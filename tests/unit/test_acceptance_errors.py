"""SES error shapes: codes, v2 types, statuses, texts and SMTP replies per condition."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.errors import Condition, SesError


def test_unverified_identities_message_matches_ses_wording() -> None:
    # Given two failing identities in a lower-case region name
    # When the error is built
    error = errors.unverified_identities("us-east-1", ["a@x.com", "b@y.com"])
    # Then the text, codes and SMTP reply are SES's
    assert error.message == (
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: a@x.com, b@y.com"
    )
    assert error.code == "MessageRejected"
    assert (error.v2_type, error.v2_status) == ("MessageRejected", 400)
    assert error.smtp_reply == "554 Message rejected: " + error.message
    assert error.bulk_status == errors.BulkEmailStatus("MessageRejected", "MESSAGE_REJECTED")


def test_unverified_identities_prints_display_names_as_given_and_once() -> None:
    # Given an identity with a display name, repeated
    identities = [
        "Sendportal <nagaraj@datafindsolution.com>",
        "Sendportal <nagaraj@datafindsolution.com>",
    ]
    # When the error is built
    error = errors.unverified_identities("us-west-2", identities)
    # Then it is printed once, display name included (XML escaping is the v1 surface's job)
    assert error.message.endswith("US-WEST-2: Sendportal <nagaraj@datafindsolution.com>")


def test_unverified_identities_ends_with_ellipsis_when_not_all_fit() -> None:
    # Given more failing identities than are listed
    identities = [f"user{i}@x.com" for i in range(5)]
    # When the error is built with room for three
    error = errors.unverified_identities("eu-west-1", identities, max_listed=3)
    # Then the first three are shown and the message ends with an ellipsis
    assert error.message.endswith("EU-WEST-1: user0@x.com, user1@x.com, user2@x.com...")


def test_unverified_identities_has_no_ellipsis_when_all_fit() -> None:
    error = errors.unverified_identities("eu-west-1", ["a@x.com", "b@x.com"], max_listed=2)
    assert not error.message.endswith("...")


CASES: list[tuple[Callable[[], SesError], Condition, str, str, int, str, str]] = [
    (
        errors.rate_exceeded,
        Condition.RATE_EXCEEDED,
        "Throttling",
        "TooManyRequestsException",
        429,
        "Maximum sending rate exceeded.",
        "454 Throttling failure: Maximum sending rate exceeded.",
    ),
    (
        errors.daily_quota_exceeded,
        Condition.DAILY_QUOTA_EXCEEDED,
        "Throttling",
        "LimitExceededException",
        400,
        "Daily message quota exceeded.",
        "454 Throttling failure: Daily message quota exceeded.",
    ),
    (
        errors.account_paused,
        Condition.ACCOUNT_PAUSED,
        "AccountSendingPausedException",
        "SendingPausedException",
        400,
        "Sending paused for this account.",
        "554 Message rejected: Sending paused for this account.",
    ),
    (
        errors.account_paused_by_enforcement,
        Condition.ACCOUNT_PAUSED_BY_ENFORCEMENT,
        "MessageRejected",
        "SendingPausedException",
        400,
        "Sending paused for this account. For more information, please check the inbox of "
        "the email address associated with your AWS account.",
        "554 Message rejected: Sending paused for this account.",
    ),
    (
        lambda: errors.configuration_set_paused("Marketing"),
        Condition.CONFIGURATION_SET_PAUSED,
        "ConfigurationSetSendingPausedException",
        "SendingPausedException",
        400,
        "Sending paused for configuration set <Marketing>.",
        "554 Message rejected: Sending paused for configuration set <Marketing>.",
    ),
    (
        lambda: errors.configuration_set_missing("ConfigSet"),
        Condition.CONFIGURATION_SET_MISSING,
        "ConfigurationSetDoesNotExist",
        "NotFoundException",
        404,
        "Configuration set <ConfigSet> does not exist.",
        "554 Transaction failed: Configuration set <ConfigSet> does not exist.",
    ),
    (
        lambda: errors.template_missing("Welcome"),
        Condition.TEMPLATE_MISSING,
        "TemplateDoesNotExist",
        "NotFoundException",
        404,
        "Template Welcome does not exist",
        "554 Transaction failed: Template Welcome does not exist",
    ),
    (
        errors.mail_from_domain_not_verified,
        Condition.MAIL_FROM_DOMAIN_NOT_VERIFIED,
        "MailFromDomainNotVerifiedException",
        "MailFromDomainNotVerifiedException",
        400,
        "Mail FROM domain is not verified.",
        "554 Message rejected: Mail FROM domain is not verified.",
    ),
    (
        errors.too_many_recipients,
        Condition.TOO_MANY_RECIPIENTS,
        "InvalidParameterValue",
        "BadRequestException",
        400,
        "Recipient count exceeds 50.",
        "554 Transaction failed: Recipient count exceeds 50.",
    ),
    (
        errors.no_recipients,
        Condition.NO_RECIPIENTS,
        "InvalidParameterValue",
        "BadRequestException",
        400,
        "There are no recipients specified.",
        "554 Transaction failed: There are no recipients specified.",
    ),
    (
        lambda: errors.message_too_long(24081986, 10485760),
        Condition.MESSAGE_TOO_LONG,
        "InvalidParameterValue",
        "MessageRejected",
        400,
        "Message length is more than 10485760 bytes long: '24081986'.",
        "552 Message is too long.",
    ),
    (
        lambda: errors.duplicate_header("Content-Type"),
        Condition.DUPLICATE_HEADER,
        "InvalidParameterValue",
        "MessageRejected",
        400,
        "Duplicate header 'Content-Type'.",
        "554 Transaction failed: Duplicate header 'Content-Type'.",
    ),
    (
        lambda: errors.unsupported_attachment("run.exe"),
        Condition.UNSUPPORTED_ATTACHMENT,
        "InvalidParameterValue",
        "MessageRejected",
        400,
        "Illegal filename 'run.exe'.",
        "554 Transaction failed: Illegal filename 'run.exe'.",
    ),
    (
        errors.non_ascii_address,
        Condition.NON_ASCII_ADDRESS,
        "InvalidParameterValue",
        "BadRequestException",
        400,
        "There are non-ASCII characters in the email address",
        "554 Transaction failed: There are non-ASCII characters in the email address",
    ),
    (
        errors.missing_final_domain,
        Condition.INVALID_ADDRESS,
        "InvalidParameterValue",
        "BadRequestException",
        400,
        "Missing final '@domain'",
        "554 Transaction failed: Missing final '@domain'",
    ),
    (
        lambda: errors.missing_rendering_attribute("attributeName"),
        Condition.MISSING_RENDERING_ATTRIBUTE,
        "MissingRenderingAttribute",
        "BadRequestException",
        400,
        "Attribute 'attributeName' is not present in the rendering data.",
        "554 Transaction failed: Attribute 'attributeName' is not present in the rendering data.",
    ),
]


@pytest.mark.parametrize(
    ("build", "condition", "code", "v2_type", "v2_status", "message", "smtp_reply"), CASES
)
def test_each_condition_has_ses_codes_text_and_smtp_reply(
    build: Callable[[], SesError],
    condition: Condition,
    code: str,
    v2_type: str,
    v2_status: int,
    message: str,
    smtp_reply: str,
) -> None:
    # Given / When the error for a condition is built
    error = build()
    # Then every surface's view of it is as SES answers
    assert error.condition is condition
    assert error.code == code
    assert error.detail.v1_status == 400
    assert (error.v2_type, error.v2_status) == (v2_type, v2_status)
    assert error.message == message
    assert error.smtp_reply == smtp_reply
    assert str(error) == f"{code}: {message}"


@pytest.mark.parametrize(
    ("build", "v1", "v2"),
    [
        (errors.rate_exceeded, "AccountThrottled", "ACCOUNT_THROTTLED"),
        (errors.daily_quota_exceeded, "AccountDailyQuotaExceeded", "ACCOUNT_DAILY_QUOTA_EXCEEDED"),
        (errors.account_paused, "AccountSendingPaused", "ACCOUNT_SENDING_PAUSED"),
        (
            lambda: errors.configuration_set_paused("c"),
            "ConfigurationSetSendingPaused",
            "CONFIGURATION_SET_SENDING_PAUSED",
        ),
        (
            lambda: errors.configuration_set_missing("c"),
            "ConfigurationSetDoesNotExist",
            "CONFIGURATION_SET_NOT_FOUND",
        ),
        (lambda: errors.template_missing("t"), "TemplateDoesNotExist", "TEMPLATE_NOT_FOUND"),
        (
            errors.mail_from_domain_not_verified,
            "MailFromDomainNotVerified",
            "MAIL_FROM_DOMAIN_NOT_VERIFIED",
        ),
        (errors.account_suspended, "AccountSuspended", "ACCOUNT_SUSPENDED"),
        (errors.too_many_recipients, "InvalidParameterValue", "INVALID_PARAMETER"),
    ],
)
def test_bulk_status_names_follow_both_apis(
    build: Callable[[], SesError], v1: str, v2: str
) -> None:
    assert build().bulk_status == errors.BulkEmailStatus(v1, v2)


def test_error_detail_round_trips_through_json_for_events() -> None:
    # Given an error raised by a rule
    detail = errors.configuration_set_missing("ConfigSet").detail
    # When it is stored as JSON and read back
    decoded = msgspec.json.decode(msgspec.json.encode(detail), type=errors.SesErrorDetail)
    # Then nothing is lost
    assert decoded == detail
