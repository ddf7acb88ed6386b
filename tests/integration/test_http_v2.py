"""The SES v2 API (REST-JSON) as boto3's ``sesv2`` client drives it, over loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sendtrail.core import events as ev
from sendtrail.core.acceptance.requests import (
    RawContent,
    SimpleContent,
    TemplateContent,
    decode_stored,
)
from tests.support.http_api import (
    ACCESS_KEY_ID,
    TOPIC_ARN,
    RunningApi,
    refusal,
    requested,
    running_api,
    send_signed,
)

MESSAGE_ID = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}-000000$")
SIMPLE = {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}}
UNMAPPED_ARN = "arn:aws:sns:us-east-1:000000000000:not-configured"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    with running_api(tmp_path_factory.mktemp("v2")) as running:
        yield running


@pytest.fixture(scope="module")
def ses(api: RunningApi) -> Any:
    return api.client("sesv2")


def send(ses: Any, **fields: Any) -> str:
    request: dict[str, Any] = {
        "FromEmailAddress": "news@example.com",
        "Destination": {"ToAddresses": ["reader@example.net"]},
        "Content": SIMPLE,
    }
    message_id: str = ses.send_email(**{**request, **fields})["MessageId"]
    return message_id


def stored_content(api: RunningApi, event: ev.SendRequested) -> object:
    """The content acceptance stored for the message, as the engine reads it back."""
    stored = decode_stored(
        api.app.engine.store.get_content(event.content_sha256 or "") or b"", event.operation
    )
    return stored if isinstance(stored, RawContent) else stored.content


# --- sending --------------------------------------------------------------------------------


def test_simple_send_with_headers_attachments_and_tags_is_accepted_for_the_caller(
    api: RunningApi, ses: Any
) -> None:
    ses.create_configuration_set(ConfigurationSetName="v2-send")
    message_id = send(
        ses,
        FromEmailAddress="Newsletter <news@example.com>",
        Destination={"ToAddresses": ["a@example.net"], "CcAddresses": ["b@example.net"]},
        ReplyToAddresses=["replies@example.com"],
        FeedbackForwardingEmailAddress="bounces@example.com",
        Content={
            "Simple": {
                "Subject": {"Data": "Hello", "Charset": "UTF-8"},
                "Body": {"Text": {"Data": "Hi"}, "Html": {"Data": "<p>Hi</p>"}},
                "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
                "Attachments": [
                    {"RawContent": b"a,b\n1,2\n", "FileName": "data.csv", "ContentType": "text/csv"}
                ],
            }
        },
        EmailTags=[{"Name": "campaign", "Value": "spring"}],
        ConfigurationSetName="v2-send",
    )

    assert MESSAGE_ID.match(message_id)
    event = requested(api, message_id)
    assert event.caller == ACCESS_KEY_ID and event.source_ip == "127.0.0.1"
    assert event.destinations == ("a@example.net", "b@example.net")
    assert event.configuration_set == "v2-send"
    assert event.tags == (ev.Tag("campaign", "spring"),)
    assert event.feedback_address == "bounces@example.com"
    content = stored_content(api, event)
    assert isinstance(content, SimpleContent)
    assert content.headers == (("X-Campaign", "spring"),)
    assert content.attachments[0].raw_content == b"a,b\n1,2\n"
    assert content.attachments[0].file_name == "data.csv"


def test_raw_send_is_accepted_with_recipients_from_its_headers(api: RunningApi, ses: Any) -> None:
    raw = (
        b"From: news@example.com\r\nTo: raw@example.net\r\nSubject: Raw\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello raw\r\n"
    )
    message_id = ses.send_email(Content={"Raw": {"Data": raw}})["MessageId"]

    event = requested(api, message_id)
    assert (event.operation, event.destinations) == ("SendRawEmail", ("raw@example.net",))
    assert api.app.engine.store.get_content(event.content_sha256 or "") == raw


def test_template_sends_by_name_and_inline_are_accepted(api: RunningApi, ses: Any) -> None:
    ses.create_email_template(
        TemplateName="v2-welcome",
        TemplateContent={"Subject": "Hi {{name}}", "Text": "Welcome, {{name}}"},
    )
    by_name = send(
        ses,
        Content={"Template": {"TemplateName": "v2-welcome", "TemplateData": '{"name": "Ann"}'}},
    )
    inline = send(
        ses,
        Content={
            "Template": {
                "TemplateContent": {"Subject": "Hey {{name}}", "Html": "<b>{{name}}</b>"},
                "TemplateData": '{"name": "Bo"}',
            }
        },
    )

    for message_id, name in ((by_name, "v2-welcome"), (inline, None)):
        content = stored_content(api, requested(api, message_id))
        assert isinstance(content, TemplateContent) and content.template_name == name
    assert '"Bo"' in content.template_data


def test_an_unverified_sender_is_message_rejected_with_ses_text(ses: Any) -> None:
    with pytest.raises(ses.exceptions.MessageRejected) as error:
        send(ses, FromEmailAddress="Someone <someone@unverified.example>")

    assert refusal(error) == (
        "MessageRejected",
        400,
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: Someone <someone@unverified.example>",
    )


def test_a_missing_configuration_set_or_template_is_not_found(ses: Any) -> None:
    with pytest.raises(ses.exceptions.NotFoundException) as missing_set:
        send(ses, ConfigurationSetName="no-such-set")
    with pytest.raises(ses.exceptions.NotFoundException) as missing_template:
        send(ses, Content={"Template": {"TemplateName": "no-such-template", "TemplateData": "{}"}})

    assert refusal(missing_set) == (
        "NotFoundException", 404, "Configuration set <no-such-set> does not exist."
    )  # fmt: skip
    assert refusal(missing_template) == (
        "NotFoundException", 404, "Template no-such-template does not exist"
    )  # fmt: skip


def test_sending_faster_than_the_quota_is_too_many_requests(tmp_path: Path) -> None:
    with running_api(tmp_path, {"account": {"max_send_rate": 1.0}}) as api:
        ses = api.client("sesv2")
        send(ses)
        with pytest.raises(ses.exceptions.TooManyRequestsException) as error:
            send(ses)

    assert refusal(error) == ("TooManyRequestsException", 429, "Maximum sending rate exceeded.")


def test_a_paused_account_or_configuration_set_refuses_sends(ses: Any) -> None:
    ses.create_configuration_set(
        ConfigurationSetName="v2-paused", SendingOptions={"SendingEnabled": False}
    )
    with pytest.raises(ses.exceptions.SendingPausedException) as set_paused:
        send(ses, ConfigurationSetName="v2-paused")
    ses.put_account_sending_attributes(SendingEnabled=False)
    try:
        assert ses.get_account()["SendingEnabled"] is False
        with pytest.raises(ses.exceptions.SendingPausedException) as account_paused:
            send(ses)
    finally:
        ses.put_account_sending_attributes(SendingEnabled=True)

    assert refusal(set_paused)[:2] == ("SendingPausedException", 400)
    assert refusal(account_paused)[2] == "Sending paused for this account."
    assert send(ses)


# --- identities -----------------------------------------------------------------------------


def test_email_and_domain_identities_are_created_read_listed_and_deleted(
    api: RunningApi, ses: Any
) -> None:
    email = ses.create_email_identity(EmailIdentity="person@identities.example")
    domain = ses.create_email_identity(
        EmailIdentity="identities.example",
        DkimSigningAttributes={"NextSigningKeyLength": "RSA_1024_BIT"},
    )
    with pytest.raises(ses.exceptions.AlreadyExistsException) as twice:
        ses.create_email_identity(EmailIdentity="person@identities.example")
    ses.put_email_identity_feedback_attributes(
        EmailIdentity="person@identities.example", EmailForwardingEnabled=False
    )
    got = ses.get_email_identity(EmailIdentity="identities.example")
    got_email = ses.get_email_identity(EmailIdentity="person@identities.example")

    assert (email["IdentityType"], email["VerifiedForSendingStatus"]) == ("EMAIL_ADDRESS", False)
    assert domain["IdentityType"] == "DOMAIN"
    assert len(domain["DkimAttributes"]["Tokens"]) == 3
    assert domain["DkimAttributes"]["Status"] == "PENDING"
    assert domain["DkimAttributes"]["NextSigningKeyLength"] == "RSA_1024_BIT"
    assert refusal(twice)[:2] == ("AlreadyExistsException", 400)
    assert got["VerificationStatus"] == "PENDING" and got["FeedbackForwardingStatus"] is True
    assert got["DkimAttributes"]["Tokens"] == domain["DkimAttributes"]["Tokens"]
    assert got_email["FeedbackForwardingStatus"] is False
    assert got_email["VerificationInfo"] == {}

    ses.delete_email_identity(EmailIdentity="person@identities.example")
    with pytest.raises(ses.exceptions.NotFoundException) as gone:
        ses.get_email_identity(EmailIdentity="person@identities.example")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.delete_email_identity(EmailIdentity="person@identities.example")
    assert refusal(gone) == (
        "NotFoundException", 404, "Email identity person@identities.example does not exist."
    )  # fmt: skip
    [saved, deleted] = api.app.engine.store.read_stream("identity/person@identities.example")[-2:]
    assert saved.event.actor == ACCESS_KEY_ID and isinstance(deleted.event, ev.ResourceDeleted)


def test_an_identity_may_name_its_default_configuration_set(ses: Any) -> None:
    ses.create_configuration_set(ConfigurationSetName="v2-identity-default")
    ses.create_email_identity(
        EmailIdentity="defaults@identities.example", ConfigurationSetName="v2-identity-default"
    )
    with pytest.raises(ses.exceptions.NotFoundException) as missing:
        ses.create_email_identity(
            EmailIdentity="other@identities.example", ConfigurationSetName="no-such-set"
        )

    got = ses.get_email_identity(EmailIdentity="defaults@identities.example")
    assert got["ConfigurationSetName"] == "v2-identity-default"
    assert refusal(missing)[2] == "Configuration set <no-such-set> does not exist."
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_identity(EmailIdentity="other@identities.example")


def test_identities_are_listed_page_by_page(api: RunningApi, ses: Any) -> None:
    for name in ("a@paging.example", "b@paging.example", "c@paging.example"):
        ses.create_email_identity(EmailIdentity=name)

    names: list[str] = []
    token: str | None = None
    while True:
        page = ses.list_email_identities(PageSize=2, **({"NextToken": token} if token else {}))
        names += [entry["IdentityName"] for entry in page["EmailIdentities"]]
        token = page.get("NextToken")
        if token is None:
            break
    everyone = ses.list_email_identities()["EmailIdentities"]
    listed = {entry["IdentityName"]: entry for entry in everyone}
    # Older botocore sends the same call as GET /v2/email/identities?PageSize=...
    legacy = send_signed(api.signed("GET", "/v2/email/identities?PageSize=1"))

    assert names == sorted(listed) and {"a@paging.example", "example.com"} <= set(names)
    assert listed["example.com"]["SendingEnabled"] is True
    assert listed["example.com"]["VerificationStatus"] == "SUCCESS"
    assert legacy.status == 200
    assert len(json.loads(legacy.body)["EmailIdentities"]) == 1


# --- configuration sets ---------------------------------------------------------------------


def test_configuration_sets_and_their_options_round_trip(api: RunningApi, ses: Any) -> None:
    ses.create_configuration_set(
        ConfigurationSetName="v2-options",
        DeliveryOptions={"TlsPolicy": "REQUIRE", "MaxDeliverySeconds": 600},
        SendingOptions={"SendingEnabled": True},
        SuppressionOptions={"SuppressedReasons": ["BOUNCE"]},
        Tags=[{"Key": "team", "Value": "mail"}],
    )
    created = ses.get_configuration_set(ConfigurationSetName="v2-options")
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="v2-options", TlsPolicy="OPTIONAL", MaxDeliverySeconds=900
    )
    ses.put_configuration_set_sending_options(
        ConfigurationSetName="v2-options", SendingEnabled=False
    )
    ses.put_configuration_set_suppression_options(
        ConfigurationSetName="v2-options", SuppressedReasons=[]
    )
    changed = ses.get_configuration_set(ConfigurationSetName="v2-options")
    with pytest.raises(ses.exceptions.AlreadyExistsException):
        ses.create_configuration_set(ConfigurationSetName="v2-options")
    with pytest.raises(ses.exceptions.BadRequestException) as too_short:
        api.client("sesv2", validate=False).put_configuration_set_delivery_options(
            ConfigurationSetName="v2-options", MaxDeliverySeconds=10
        )
    listed = ses.list_configuration_sets()["ConfigurationSets"]

    assert created["DeliveryOptions"] == {"TlsPolicy": "REQUIRE", "MaxDeliverySeconds": 600}
    assert created["SendingOptions"] == {"SendingEnabled": True}
    assert created["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE"]}
    assert created["Tags"] == [{"Key": "team", "Value": "mail"}]
    assert changed["DeliveryOptions"] == {"TlsPolicy": "OPTIONAL", "MaxDeliverySeconds": 900}
    assert changed["SendingOptions"] == {"SendingEnabled": False}
    assert changed["SuppressionOptions"] == {"SuppressedReasons": []}
    assert refusal(too_short)[2] == "MaxDeliverySeconds must be between 300 and 50400."
    assert "v2-options" in listed

    ses.delete_configuration_set(ConfigurationSetName="v2-options")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_configuration_set(ConfigurationSetName="v2-options")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.put_configuration_set_sending_options(ConfigurationSetName="v2-options")


def test_event_destinations_are_created_updated_and_deleted(ses: Any) -> None:
    ses.create_configuration_set(ConfigurationSetName="v2-events")
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="v2-events",
        EventDestinationName="to-sns",
        EventDestination={
            "Enabled": True,
            "MatchingEventTypes": ["SEND", "BOUNCE"],
            "SnsDestination": {"TopicArn": TOPIC_ARN},
        },
    )
    with pytest.raises(ses.exceptions.AlreadyExistsException):
        ses.create_configuration_set_event_destination(
            ConfigurationSetName="v2-events",
            EventDestinationName="to-sns",
            EventDestination={"SnsDestination": {"TopicArn": TOPIC_ARN}},
        )
    ses.update_configuration_set_event_destination(
        ConfigurationSetName="v2-events",
        EventDestinationName="to-sns",
        EventDestination={
            "Enabled": False,
            "MatchingEventTypes": ["DELIVERY"],
            "SnsDestination": {"TopicArn": TOPIC_ARN},
        },
    )
    destinations = ses.get_configuration_set_event_destinations(ConfigurationSetName="v2-events")
    with pytest.raises(ses.exceptions.BadRequestException) as unmapped:
        ses.create_configuration_set_event_destination(
            ConfigurationSetName="v2-events",
            EventDestinationName="elsewhere",
            EventDestination={"SnsDestination": {"TopicArn": UNMAPPED_ARN}},
        )

    assert destinations["EventDestinations"] == [
        {
            "Name": "to-sns",
            "Enabled": False,
            "MatchingEventTypes": ["DELIVERY"],
            "SnsDestination": {"TopicArn": TOPIC_ARN},
        }
    ]
    assert refusal(unmapped) == (
        "BadRequestException",
        400,
        f"SNS topic <{UNMAPPED_ARN}> not found.",
    )

    ses.delete_configuration_set_event_destination(
        ConfigurationSetName="v2-events", EventDestinationName="to-sns"
    )
    assert (
        ses.get_configuration_set_event_destinations(ConfigurationSetName="v2-events")[
            "EventDestinations"
        ]
        == []
    )
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.delete_configuration_set_event_destination(
            ConfigurationSetName="v2-events", EventDestinationName="to-sns"
        )


# --- templates ------------------------------------------------------------------------------


def test_templates_are_created_read_updated_listed_and_deleted(api: RunningApi, ses: Any) -> None:
    content = {"Subject": "Hi {{name}}", "Text": "Hello {{name}}", "Html": "<p>{{name}}</p>"}
    ses.create_email_template(TemplateName="v2-crud", TemplateContent=content)
    with pytest.raises(ses.exceptions.AlreadyExistsException):
        ses.create_email_template(TemplateName="v2-crud", TemplateContent=content)
    got = ses.get_email_template(TemplateName="v2-crud")
    ses.update_email_template(
        TemplateName="v2-crud", TemplateContent={"Subject": "New", "Text": "x"}
    )
    updated = ses.get_email_template(TemplateName="v2-crud")["TemplateContent"]
    first = ses.list_email_templates(PageSize=1)
    rest = ses.list_email_templates(NextToken=first["NextToken"])

    assert got["TemplateName"] == "v2-crud" and got["TemplateContent"] == content
    assert updated == {"Subject": "New", "Text": "x"}
    listed = [t["TemplateName"] for t in first["TemplatesMetadata"] + rest["TemplatesMetadata"]]
    assert "v2-crud" in listed and len(first["TemplatesMetadata"]) == 1
    assert all("CreatedTimestamp" in t for t in first["TemplatesMetadata"])
    [saved] = api.app.engine.store.read_stream("template/v2-crud")[:1]
    assert saved.event.actor == ACCESS_KEY_ID

    ses.delete_email_template(TemplateName="v2-crud")
    with pytest.raises(ses.exceptions.NotFoundException) as gone:
        ses.get_email_template(TemplateName="v2-crud")
    assert refusal(gone) == ("NotFoundException", 404, "Template v2-crud does not exist.")


# --- suppression list -----------------------------------------------------------------------


def test_suppressed_destinations_are_put_read_listed_and_deleted(ses: Any) -> None:
    for address, reason in (
        ("s1@suppressed.example", "BOUNCE"),
        ("s2@suppressed.example", "COMPLAINT"),
        ("s3@suppressed.example", "BOUNCE"),
    ):
        ses.put_suppressed_destination(EmailAddress=address, Reason=reason)
    got = ses.get_suppressed_destination(EmailAddress="s2@suppressed.example")
    bounces = ses.list_suppressed_destinations(Reasons=["BOUNCE"])
    both = ses.list_suppressed_destinations(Reasons=["BOUNCE", "COMPLAINT"], PageSize=2)
    after = ses.list_suppressed_destinations(NextToken=both["NextToken"], PageSize=2)
    since = got["SuppressedDestination"]["LastUpdateTime"]
    dated = ses.list_suppressed_destinations(StartDate=since, EndDate=since.replace(year=2999))
    with pytest.raises(ses.exceptions.InvalidNextTokenException) as bad_token:
        ses.list_suppressed_destinations(NextToken="not-a-token")

    assert got["SuppressedDestination"]["EmailAddress"] == "s2@suppressed.example"
    assert got["SuppressedDestination"]["Reason"] == "COMPLAINT"
    assert [d["EmailAddress"] for d in bounces["SuppressedDestinationSummaries"]] == [
        "s1@suppressed.example", "s3@suppressed.example"
    ]  # fmt: skip
    paged = both["SuppressedDestinationSummaries"] + after["SuppressedDestinationSummaries"]
    assert len(both["SuppressedDestinationSummaries"]) == 2 and len(paged) == 3
    assert len(dated["SuppressedDestinationSummaries"]) >= 1
    assert refusal(bad_token) == ("InvalidNextTokenException", 400, "The NextToken is invalid.")

    ses.delete_suppressed_destination(EmailAddress="s2@suppressed.example")
    with pytest.raises(ses.exceptions.NotFoundException) as gone:
        ses.get_suppressed_destination(EmailAddress="s2@suppressed.example")
    assert refusal(gone)[:2] == ("NotFoundException", 404)


# --- account --------------------------------------------------------------------------------


def test_get_account_reports_quota_and_settings(ses: Any) -> None:
    ses.put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
    try:
        account = ses.get_account()
    finally:
        ses.put_account_suppression_attributes(SuppressedReasons=["BOUNCE", "COMPLAINT"])

    assert account["SendQuota"]["Max24HourSend"] == 50000.0
    assert account["SendQuota"]["MaxSendRate"] == 1000.0
    assert account["SendQuota"]["SentLast24Hours"] >= 0
    assert account["ProductionAccessEnabled"] is True
    assert account["EnforcementStatus"] == "HEALTHY"
    assert account["DedicatedIpAutoWarmupEnabled"] is False
    assert account["SendingEnabled"] is True
    assert account["SuppressionAttributes"] == {"SuppressedReasons": ["COMPLAINT"]}


# --- malformed requests ---------------------------------------------------------------------


def test_malformed_json_and_missing_members_are_bad_requests(api: RunningApi) -> None:
    malformed = send_signed(
        api.signed(
            "POST",
            "/v2/email/outbound-emails",
            b'{"Content": ',
            headers={"Content-Type": "application/json"},
        )
    )
    unchecked = api.client("sesv2", validate=False)
    with pytest.raises(unchecked.exceptions.BadRequestException) as missing:
        unchecked.create_email_template(TemplateName="no-content")
    with pytest.raises(unchecked.exceptions.BadRequestException) as bad_enum:
        unchecked.put_suppressed_destination(EmailAddress="x@example.net", Reason="SPAM")
    with pytest.raises(unchecked.exceptions.BadRequestException) as two_contents:
        unchecked.send_email(
            FromEmailAddress="news@example.com",
            Destination={"ToAddresses": ["reader@example.net"]},
            Content={**SIMPLE, "Raw": {"Data": b"x"}},
        )

    assert malformed.status == 400
    assert malformed.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert json.loads(malformed.body)["message"].startswith("The request body is not valid JSON")
    assert refusal(missing) == (
        "BadRequestException",
        400,
        "Invalid request: Object missing required field `TemplateContent`",
    )
    assert "`$.Reason`" in refusal(bad_enum)[2]
    assert refusal(two_contents)[2] == (
        "Content must contain exactly one of Simple, Raw or Template."
    )


def test_an_unknown_route_is_a_clean_404(api: RunningApi) -> None:
    response = send_signed(api.signed("GET", "/v2/email/no-such-thing"))
    wrong_method = send_signed(api.signed("PATCH", "/v2/email/account"))

    assert response.status == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert json.loads(response.body) == {
        "message": "No operation matches GET /v2/email/no-such-thing."
    }
    assert wrong_method.status == 404 and "Traceback" not in wrong_method.text


def test_an_unexpected_failure_is_an_internal_error_without_a_traceback(
    api: RunningApi, ses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api.app.account, "templates", broken)
    with pytest.raises(ClientError) as error:
        ses.list_email_templates()

    assert refusal(error) == (
        "InternalServiceErrorException",
        500,
        "The request processing has failed because of an unknown error.",
    )
