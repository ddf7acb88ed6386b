"""The SES v1 API (Query protocol, XML) as boto3's ``ses`` client drives it, over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError

from sendtrail.core import events as ev
from tests.support.http_api import (
    ACCESS_KEY_ID,
    TOPIC_ARN,
    RunningApi,
    refusal,
    requested,
    running_api,
    send_signed,
)

MESSAGE = {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}
RAW = (
    b"From: news@example.com\r\nTo: raw@example.net\r\nCc: copy@example.net\r\n"
    b"Subject: Raw\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello raw\r\n"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    with running_api(tmp_path_factory.mktemp("v1")) as running:
        yield running


@pytest.fixture(scope="module")
def ses(api: RunningApi) -> Any:
    return api.client("ses")


def send(ses: Any, **fields: Any) -> str:
    request: dict[str, Any] = {
        "Source": "news@example.com",
        "Destination": {"ToAddresses": ["reader@example.net"]},
        "Message": MESSAGE,
    }
    message_id: str = ses.send_email(**{**request, **fields})["MessageId"]
    return message_id


def query(api: RunningApi, **params: str) -> Any:
    return send_signed(
        api.signed("POST", "/", urlencode({**params, "Version": "2010-12-01"}).encode(), FORM)
    )


# --- sending --------------------------------------------------------------------------------


def test_send_email_is_accepted_with_its_tags_and_caller(api: RunningApi, ses: Any) -> None:
    ses.create_configuration_set(ConfigurationSet={"Name": "v1-send"})
    message_id = send(
        ses,
        Destination={"ToAddresses": ["a@example.net"], "BccAddresses": ["b@example.net"]},
        Message={
            "Subject": {"Data": "Hello", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "Hi"}, "Html": {"Data": "<p>Hi</p>"}},
        },
        ReplyToAddresses=["replies@example.com"],
        ReturnPath="bounces@example.com",
        Tags=[{"Name": "campaign", "Value": "spring"}, {"Name": "kind", "Value": "news"}],
        ConfigurationSetName="v1-send",
    )

    event = requested(api, message_id)
    assert (event.operation, event.caller, event.source_ip) == (
        "SendEmail", ACCESS_KEY_ID, "127.0.0.1"
    )  # fmt: skip
    assert event.destinations == ("a@example.net", "b@example.net")
    assert event.tags == (ev.Tag("campaign", "spring"), ev.Tag("kind", "news"))
    assert event.configuration_set == "v1-send"
    assert event.feedback_address == "bounces@example.com"


def test_send_raw_email_takes_recipients_from_destinations_or_headers(
    api: RunningApi, ses: Any
) -> None:
    from_headers = ses.send_raw_email(RawMessage={"Data": RAW})["MessageId"]
    from_envelope = ses.send_raw_email(
        Source="news@example.com", Destinations=["other@example.net"], RawMessage={"Data": RAW}
    )["MessageId"]

    assert requested(api, from_headers).destinations == ("raw@example.net", "copy@example.net")
    assert requested(api, from_envelope).destinations == ("other@example.net",)
    assert requested(api, from_envelope).operation == "SendRawEmail"


def test_send_raw_email_over_10_mb_is_refused_on_this_api(ses: Any) -> None:
    body = b"x" * 76 + b"\r\n"
    big = RAW + body * (10 * 1024 * 1024 // len(body) + 1)
    with pytest.raises(ClientError) as error:
        ses.send_raw_email(RawMessage={"Data": big})

    assert refusal(error) == (
        "InvalidParameterValue",
        400,
        f"Message length is more than 10485760 bytes long: '{len(big)}'.",
    )


def test_send_templated_email_names_a_stored_template(api: RunningApi, ses: Any) -> None:
    ses.create_template(
        Template={"TemplateName": "v1-welcome", "SubjectPart": "Hi {{name}}", "TextPart": "x"}
    )
    message_id = ses.send_templated_email(
        Source="news@example.com",
        Destination={"ToAddresses": ["reader@example.net"]},
        Template="v1-welcome",
        TemplateData='{"name": "Ann"}',
    )["MessageId"]
    with pytest.raises(ses.exceptions.TemplateDoesNotExistException) as missing:
        ses.send_templated_email(
            Source="news@example.com",
            Destination={"ToAddresses": ["reader@example.net"]},
            Template="no-such-template",
            TemplateData="{}",
        )

    assert requested(api, message_id).operation == "SendTemplatedEmail"
    assert refusal(missing) == (
        "TemplateDoesNotExist", 400, "Template no-such-template does not exist"
    )  # fmt: skip


def test_an_unverified_sender_is_message_rejected_and_xml_escaped(
    api: RunningApi, ses: Any
) -> None:
    with pytest.raises(ses.exceptions.MessageRejected) as error:
        send(ses, Source="Someone <someone@unverified.example>")
    raw = query(
        api,
        Action="SendEmail",
        Source="Someone <someone@unverified.example>",
        **{
            "Destination.ToAddresses.member.1": "reader@example.net",
            "Message.Subject.Data": "Hi",
            "Message.Body.Text.Data": "Hi",
        },
    )

    text = (
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: Someone <someone@unverified.example>"
    )
    assert refusal(error) == ("MessageRejected", 400, text)
    assert raw.status == 400
    assert "<Type>Sender</Type>" in raw.text and "<Code>MessageRejected</Code>" in raw.text
    assert "US-EAST-1: Someone &lt;someone@unverified.example&gt;</Message>" in raw.text
    assert 'xmlns="http://ses.amazonaws.com/doc/2010-12-01/"' in raw.text


def test_a_missing_configuration_set_is_configuration_set_does_not_exist(ses: Any) -> None:
    with pytest.raises(ses.exceptions.ConfigurationSetDoesNotExistException) as error:
        send(ses, ConfigurationSetName="no-such-set")

    assert refusal(error) == (
        "ConfigurationSetDoesNotExist", 400, "Configuration set <no-such-set> does not exist."
    )  # fmt: skip


def test_sending_faster_than_the_quota_is_throttling(tmp_path: Path) -> None:
    with running_api(tmp_path, {"account": {"max_send_rate": 1.0}}) as api:
        ses = api.client("ses")
        send(ses)
        with pytest.raises(ClientError) as error:
            send(ses)

    assert refusal(error) == ("Throttling", 400, "Maximum sending rate exceeded.")


def test_paused_sending_is_refused_per_account_and_per_configuration_set(ses: Any) -> None:
    ses.create_configuration_set(ConfigurationSet={"Name": "v1-paused"})
    ses.update_configuration_set_sending_enabled(ConfigurationSetName="v1-paused", Enabled=False)
    with pytest.raises(ses.exceptions.ConfigurationSetSendingPausedException):
        send(ses, ConfigurationSetName="v1-paused")
    ses.update_account_sending_enabled(Enabled=False)
    try:
        disabled = ses.get_account_sending_enabled()["Enabled"]
        with pytest.raises(ses.exceptions.AccountSendingPausedException):
            send(ses)
    finally:
        ses.update_account_sending_enabled(Enabled=True)

    assert disabled is False and ses.get_account_sending_enabled()["Enabled"] is True
    with pytest.raises(ses.exceptions.ConfigurationSetDoesNotExistException):
        ses.update_configuration_set_sending_enabled(ConfigurationSetName="gone", Enabled=True)


# --- identities -----------------------------------------------------------------------------


def test_identities_are_verified_listed_and_deleted(api: RunningApi, ses: Any) -> None:
    ses.verify_email_identity(EmailAddress="person@v1.example")
    ses.verify_email_address(EmailAddress="old-style@v1.example")
    token = ses.verify_domain_identity(Domain="v1.example")["VerificationToken"]
    again = ses.verify_domain_identity(Domain="v1.example")["VerificationToken"]
    dkim_tokens = ses.verify_domain_dkim(Domain="v1.example")["DkimTokens"]
    names = ["person@v1.example", "v1.example", "example.com", "unknown@v1.example"]
    verification = ses.get_identity_verification_attributes(Identities=names)
    dkim = ses.get_identity_dkim_attributes(Identities=names)
    domains = ses.list_identities(IdentityType="Domain")["Identities"]
    first = ses.list_identities(MaxItems=2)
    rest = ses.list_identities(NextToken=first["NextToken"])

    assert token == again and len(token) == 44 and len(dkim_tokens) == 3
    attributes = verification["VerificationAttributes"]
    assert set(attributes) == {"person@v1.example", "v1.example", "example.com"}
    assert attributes["person@v1.example"] == {"VerificationStatus": "Pending"}
    assert attributes["v1.example"] == {"VerificationStatus": "Pending", "VerificationToken": token}
    assert attributes["example.com"]["VerificationStatus"] == "Success"
    assert dkim["DkimAttributes"]["v1.example"] == {
        "DkimEnabled": True, "DkimVerificationStatus": "Pending", "DkimTokens": dkim_tokens
    }  # fmt: skip
    assert dkim["DkimAttributes"]["person@v1.example"] == {
        "DkimEnabled": False, "DkimVerificationStatus": "NotStarted"
    }  # fmt: skip
    assert "v1.example" in domains and "person@v1.example" not in domains
    assert len(first["Identities"]) == 2
    everyone = set(first["Identities"] + rest["Identities"])
    assert {"old-style@v1.example", "person@v1.example"} <= everyone

    ses.delete_identity(Identity="person@v1.example")
    ses.delete_identity(Identity="person@v1.example")  # v1 deletes are idempotent
    assert "person@v1.example" not in ses.list_identities()["Identities"]
    saved = api.app.engine.store.read_stream("identity/v1.example")[0].event
    assert saved.actor == ACCESS_KEY_ID


def test_notification_topics_forwarding_and_headers_are_set_per_identity(ses: Any) -> None:
    ses.verify_email_identity(EmailAddress="notify@v1.example")
    with pytest.raises(ClientError) as no_topics:
        ses.set_identity_feedback_forwarding_enabled(
            Identity="notify@v1.example", ForwardingEnabled=False
        )
    for kind in ("Bounce", "Complaint", "Delivery"):
        ses.set_identity_notification_topic(
            Identity="notify@v1.example", NotificationType=kind, SnsTopic=TOPIC_ARN
        )
    ses.set_identity_feedback_forwarding_enabled(
        Identity="notify@v1.example", ForwardingEnabled=False
    )
    ses.set_identity_headers_in_notifications_enabled(
        Identity="notify@v1.example", NotificationType="Bounce", Enabled=True
    )
    configured = ses.get_identity_notification_attributes(Identities=["notify@v1.example"])
    ses.set_identity_notification_topic(Identity="notify@v1.example", NotificationType="Bounce")
    cleared = ses.get_identity_notification_attributes(Identities=["notify@v1.example"])
    with pytest.raises(ClientError) as unmapped:
        ses.set_identity_notification_topic(
            Identity="notify@v1.example",
            NotificationType="Bounce",
            SnsTopic="arn:aws:sns:us-east-1:000000000000:elsewhere",
        )
    with pytest.raises(ClientError) as unknown:
        ses.set_identity_notification_topic(
            Identity="nobody@v1.example", NotificationType="Bounce", SnsTopic=TOPIC_ARN
        )

    assert refusal(no_topics)[:2] == ("InvalidParameterValue", 400)
    assert configured["NotificationAttributes"]["notify@v1.example"] == {
        "BounceTopic": TOPIC_ARN,
        "ComplaintTopic": TOPIC_ARN,
        "DeliveryTopic": TOPIC_ARN,
        "ForwardingEnabled": False,
        "HeadersInBounceNotificationsEnabled": True,
        "HeadersInComplaintNotificationsEnabled": False,
        "HeadersInDeliveryNotificationsEnabled": False,
    }
    after = cleared["NotificationAttributes"]["notify@v1.example"]
    assert "BounceTopic" not in after and after["ForwardingEnabled"] is True
    assert refusal(unmapped) == (
        "InvalidParameterValue",
        400,
        "SNS topic <arn:aws:sns:us-east-1:000000000000:elsewhere> not found.",
    )
    assert refusal(unknown) == (
        "InvalidParameterValue",
        400,
        "Identity nobody@v1.example is invalid. Must be a verified email address or domain.",
    )


# --- templates and configuration sets -------------------------------------------------------


def test_templates_are_created_read_updated_listed_and_deleted(ses: Any) -> None:
    template = {"TemplateName": "v1-crud", "SubjectPart": "Hi", "TextPart": "x", "HtmlPart": "<b/>"}
    ses.create_template(Template=template)
    with pytest.raises(ses.exceptions.AlreadyExistsException) as twice:
        ses.create_template(Template=template)
    got = ses.get_template(TemplateName="v1-crud")["Template"]
    ses.update_template(Template={"TemplateName": "v1-crud", "SubjectPart": "New"})
    updated = ses.get_template(TemplateName="v1-crud")["Template"]
    listed = ses.list_templates(MaxItems=10)["TemplatesMetadata"]
    with pytest.raises(ses.exceptions.TemplateDoesNotExistException):
        ses.update_template(Template={"TemplateName": "v1-missing", "SubjectPart": "x"})

    assert refusal(twice)[:2] == ("AlreadyExists", 400)
    assert got == template
    assert updated == {"TemplateName": "v1-crud", "SubjectPart": "New"}
    assert "v1-crud" in [entry["Name"] for entry in listed]
    assert all("CreatedTimestamp" in entry for entry in listed)

    ses.delete_template(TemplateName="v1-crud")
    ses.delete_template(TemplateName="v1-crud")  # v1 deletes are idempotent
    with pytest.raises(ses.exceptions.TemplateDoesNotExistException) as gone:
        ses.get_template(TemplateName="v1-crud")
    assert refusal(gone) == ("TemplateDoesNotExist", 400, "Template v1-crud does not exist.")


def test_configuration_sets_are_created_described_listed_and_deleted(ses: Any) -> None:
    ses.create_configuration_set(ConfigurationSet={"Name": "v1-sets"})
    with pytest.raises(ses.exceptions.ConfigurationSetAlreadyExistsException) as twice:
        ses.create_configuration_set(ConfigurationSet={"Name": "v1-sets"})
    with pytest.raises(ses.exceptions.InvalidConfigurationSetException):
        ses.create_configuration_set(ConfigurationSet={"Name": "not valid!"})
    described = ses.describe_configuration_set(
        ConfigurationSetName="v1-sets",
        ConfigurationSetAttributeNames=[
            "eventDestinations",
            "deliveryOptions",
            "reputationOptions",
        ],
    )
    listed = [entry["Name"] for entry in ses.list_configuration_sets()["ConfigurationSets"]]

    assert refusal(twice) == (
        "ConfigurationSetAlreadyExists", 400, "Configuration set <v1-sets> already exists."
    )  # fmt: skip
    assert described["ConfigurationSet"] == {"Name": "v1-sets"}
    assert described["EventDestinations"] == []
    assert described["DeliveryOptions"] == {"TlsPolicy": "Optional"}
    assert described["ReputationOptions"]["SendingEnabled"] is True
    assert "v1-sets" in listed

    ses.delete_configuration_set(ConfigurationSetName="v1-sets")
    with pytest.raises(ses.exceptions.ConfigurationSetDoesNotExistException) as gone:
        ses.describe_configuration_set(ConfigurationSetName="v1-sets")
    with pytest.raises(ses.exceptions.ConfigurationSetDoesNotExistException):
        ses.delete_configuration_set(ConfigurationSetName="v1-sets")
    assert refusal(gone)[2] == "Configuration set <v1-sets> does not exist."


# --- quota and statistics -------------------------------------------------------------------


def test_send_quota_and_statistics_count_accepted_sends(ses: Any) -> None:
    before = ses.get_send_quota()["SentLast24Hours"]
    send(ses, Destination={"ToAddresses": ["q1@example.net", "q2@example.net"]})
    quota = ses.get_send_quota()
    points = ses.get_send_statistics()["SendDataPoints"]

    assert quota["Max24HourSend"] == 50000.0 and quota["MaxSendRate"] == 1000.0
    assert quota["SentLast24Hours"] == before + 2
    assert sum(point["DeliveryAttempts"] for point in points) >= 2
    assert {"Timestamp", "DeliveryAttempts", "Bounces", "Complaints", "Rejects"} <= set(points[0])


# --- malformed requests ---------------------------------------------------------------------


def test_an_unknown_action_or_a_missing_parameter_is_refused_in_xml(api: RunningApi) -> None:
    unknown = query(api, Action="LaunchRockets")
    unchecked = api.client("ses", validate=False)
    with pytest.raises(ClientError) as missing:
        unchecked.send_email(Destination={"ToAddresses": ["x@example.net"]}, Message=MESSAGE)

    assert unknown.status == 400
    assert "<Code>InvalidAction</Code>" in unknown.text
    assert "The action LaunchRockets is not valid for this web service." in unknown.text
    assert refusal(missing) == (
        "ValidationError",
        400,
        "1 validation error detected: Value null at 'source' failed to satisfy constraint: "
        "Member must not be null",
    )
