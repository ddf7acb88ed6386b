"""The SES JSON, field for field, against the reference's examples (ses-behaviour.md 3-7).

Each test rebuilds the example's message and outcome as events and compares the whole record.
Where sendtrail knowingly differs, the test says so and adjusts the expectation:
- ``commonHeaders.messageId`` is always there (the SES id when the message has no
  Message-ID), as in the DG's examples; the 2018 simulator sample predates it;
- ``commonHeaders.to`` lists one entry per address (real payloads), where the DG bounce
  example joins them in one string;
- event publishing adds the ``ses:operation`` tag, and the ``ses:*`` tags it knows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sendtrail.core import events as ev
from sendtrail.core.acceptance.requests import RawContent
from sendtrail.core.delivery.suppression import ACCOUNT_SUPPRESSED_DIAGNOSTIC
from sendtrail.core.notifications import Publisher, event_record, identity_notification
from sendtrail.core.notifications.headers import MailHeaders, mail_headers
from sendtrail.core.notifications.timestamps import ses_date_text, ses_timestamp


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def request(**fields: Any) -> ev.SendRequested:
    fields.setdefault("operation", "SendRawEmail")
    return ev.SendRequested(**fields)


def headers_of(raw: bytes, message: ev.SendRequested) -> MailHeaders:
    return mail_headers(
        RawContent(data=raw),
        message_id=message.message_id,
    )


# --- identity notifications (reference 3.6) -----------------------------------------------

SIMULATOR_ID = "0100016120b1f8e1-551db81a-95fd-40c4-90fe-426d40de6d2c-000000"
SIMULATOR_ARN = "arn:aws:ses:us-east-1:335055970032:identity/alexa.reactjs.dallas@gmail.com"
SIMULATOR_RAW = (
    b"From: alexa.reactjs.dallas@gmail.com\r\nTo: bounce@simulator.amazonses.com\r\n"
    b"Subject: test bounce\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n\r\ntest\r\n"
)


def test_a_simulator_bounce_with_headers_is_the_observed_notification() -> None:
    message = request(
        at=at("2018-01-23T01:46:30.000Z"),
        message_id=SIMULATOR_ID,
        source="alexa.reactjs.dallas@gmail.com",
        destinations=("bounce@simulator.amazonses.com",),
        source_ip="72.21.217.65",
    )
    bounce = ev.RecipientBounced(
        at=at("2018-01-23T01:46:30.711Z"),
        recipient="bounce@simulator.amazonses.com",
        bounce_type="Permanent",
        bounce_subtype="General",
        status="5.1.1",
        diagnostic_code="smtp; 550 5.1.1 user unknown",
        remote_mta_ip="205.251.242.49",
        reporting_mta="dsn; a8-70.smtp-out.amazonses.com",
        feedback_id="0100016120b1fb80-fb136aee-d492-4ac6-9584-49f8d9ed28db-000000",
    )
    record = identity_notification(
        "Bounce",
        bounce,
        message,
        publisher=Publisher("us-east-1", "335055970032"),
        identity_name="alexa.reactjs.dallas@gmail.com",
        headers=headers_of(SIMULATOR_RAW, message),
    )
    assert record == {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "bounce@simulator.amazonses.com",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2018-01-23T01:46:30.711Z",
            "feedbackId": "0100016120b1fb80-fb136aee-d492-4ac6-9584-49f8d9ed28db-000000",
            "remoteMtaIp": "205.251.242.49",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": {
            "timestamp": "2018-01-23T01:46:30.000Z",
            "source": "alexa.reactjs.dallas@gmail.com",
            "sourceArn": SIMULATOR_ARN,
            "sourceIp": "72.21.217.65",
            "sendingAccountId": "335055970032",
            "messageId": SIMULATOR_ID,
            "destination": ["bounce@simulator.amazonses.com"],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": "alexa.reactjs.dallas@gmail.com"},
                {"name": "To", "value": "bounce@simulator.amazonses.com"},
                {"name": "Subject", "value": "test bounce"},
                {"name": "MIME-Version", "value": "1.0"},
                {"name": "Content-Type", "value": "text/plain; charset=UTF-8"},
                {"name": "Content-Transfer-Encoding", "value": "7bit"},
            ],
            "commonHeaders": {
                "from": ["alexa.reactjs.dallas@gmail.com"],
                "to": ["bounce@simulator.amazonses.com"],
                "messageId": SIMULATOR_ID,  # see the module docstring
                "subject": "test bounce",
            },
        },
    }


DG_RAW = (
    b'From: "John Doe" <john@example.com>\r\n'
    b'To: "Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>,\r\n'
    b' "Richard Doe" <richard@example.com>\r\n'
    b"Message-ID: custom-message-ID\r\nSubject: Hello\r\n"
    b'Content-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: base64\r\n'
    b"Date: Wed, 27 Jan 2016 14:05:45 +0000\r\n\r\nSGVsbG8=\r\n"
)
DG_HEADERS = [
    {"name": "From", "value": '"John Doe" <john@example.com>'},
    {
        "name": "To",
        "value": '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>, '
        '"Richard Doe" <richard@example.com>',
    },
    {"name": "Message-ID", "value": "custom-message-ID"},
    {"name": "Subject", "value": "Hello"},
    {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
    {"name": "Content-Transfer-Encoding", "value": "base64"},
    {"name": "Date", "value": "Wed, 27 Jan 2016 14:05:45 +0000"},
]
DG_PUBLISHER = Publisher("us-east-1", "123456789012")


def dg_message(message_id: str, destinations: tuple[str, ...]) -> ev.SendRequested:
    return request(
        at=at("2016-01-27T14:59:38.237Z"),
        message_id=message_id,
        source="john@example.com",
        destinations=destinations,
        source_ip="127.0.3.0",
        caller="IAM_user_or_role_name",
    )


def test_the_dg_bounce_with_a_dsn_is_matched_field_for_field() -> None:
    message = dg_message(
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        ("jane@example.com", "mary@example.com", "richard@example.com"),
    )
    bounce = ev.BounceReported(
        at=at("2016-01-27T14:59:38.237Z"),
        recipient="jane@example.com",
        bounce_type="Permanent",
        bounce_subtype="General",
        status="5.1.1",
        diagnostic_code="smtp; 550 5.1.1 <jane@example.com>... User",
        remote_mta_ip="127.0.2.0",
        reporting_mta="dns; email.example.com",
        feedback_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
    )
    record = identity_notification(
        "Bounce",
        bounce,
        message,
        publisher=DG_PUBLISHER,
        identity_name="example.com",
        headers=headers_of(DG_RAW, message),
    )
    assert record["bounce"] == {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    }
    assert record["mail"] == {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "john@example.com",
        # The DG's example names account 888888888888 here and 123456789012 below; one
        # account sends, so sendtrail writes the same id in both.
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "callerIdentity": "IAM_user_or_role_name",
        "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
        "headersTruncated": False,
        "headers": DG_HEADERS,
        "commonHeaders": {
            "from": ["John Doe <john@example.com>"],
            "date": "Wed, 27 Jan 2016 14:05:45 +0000",
            "to": [
                "Jane Doe <jane@example.com>",
                "Mary Doe <mary@example.com>",
                "Richard Doe <richard@example.com>",
            ],
            "messageId": "custom-message-ID",
            "subject": "Hello",
        },
    }
    assert list(record) == ["notificationType", "bounce", "mail"]


def test_a_simulator_complaint_without_headers_is_the_observed_notification() -> None:
    message = request(
        at=at("2018-01-23T01:51:51.901Z"),
        message_id="0100016120b6e088-043d10c1-7c0e-47d5-9abd-e1bc75c41e83-000000",
        source="alexa.reactjs.dallas@gmail.com",
        destinations=("complaint@simulator.amazonses.com",),
        source_ip="72.21.217.107",
    )
    complaint = ev.ComplaintReported(
        at=at("2018-01-23T01:51:51.000Z"),
        recipient="complaint@simulator.amazonses.com",
        feedback_id="0100016120b6e211-8e271d78-1189-471a-862d-5766c785879a-000000",
        feedback_type="abuse",
        user_agent="Amazon SES Mailbox Simulator",
    )
    record = identity_notification(
        "Complaint",
        complaint,
        message,
        publisher=Publisher("us-east-1", "335055970032"),
        identity_name="alexa.reactjs.dallas@gmail.com",
        headers=None,
    )
    assert record == {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "complaint@simulator.amazonses.com"}],
            "timestamp": "2018-01-23T01:51:51.000Z",
            "feedbackId": "0100016120b6e211-8e271d78-1189-471a-862d-5766c785879a-000000",
            "userAgent": "Amazon SES Mailbox Simulator",
            "complaintFeedbackType": "abuse",
        },
        "mail": {
            "timestamp": "2018-01-23T01:51:51.901Z",
            "source": "alexa.reactjs.dallas@gmail.com",
            "sourceArn": SIMULATOR_ARN,
            "sourceIp": "72.21.217.107",
            "sendingAccountId": "335055970032",
            "messageId": "0100016120b6e088-043d10c1-7c0e-47d5-9abd-e1bc75c41e83-000000",
            "destination": ["complaint@simulator.amazonses.com"],
        },
    }


def test_the_dg_delivery_is_matched_field_for_field() -> None:
    message = dg_message(
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000", ("jane@example.com",)
    )
    raw = DG_RAW.replace(
        b'"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>,\r\n'
        b' "Richard Doe" <richard@example.com>',
        b'"Jane Doe" <jane@example.com>',
    ).replace(b"14:05:45", b"14:58:45")
    delivered = ev.RecipientDelivered(
        at=at("2016-01-27T14:59:38.237Z"),
        recipient="jane@example.com",
        smtp_response="250 ok:  Message 64111812 accepted",
        remote_mta_ip="127.0.2.0",
        reporting_mta="a8-70.smtp-out.amazonses.com",
        processing_ms=546,
    )
    record = identity_notification(
        "Delivery",
        delivered,
        message,
        publisher=DG_PUBLISHER,
        identity_name="example.com",
        headers=headers_of(raw, message),
    )
    assert list(record) == ["notificationType", "mail", "delivery"]
    assert record["delivery"] == {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    }
    assert record["mail"]["commonHeaders"] == {
        "from": ["John Doe <john@example.com>"],
        "date": "Wed, 27 Jan 2016 14:58:45 +0000",
        "to": ["Jane Doe <jane@example.com>"],
        "messageId": "custom-message-ID",
        "subject": "Hello",
    }
    assert record["mail"]["headers"][1] == {"name": "To", "value": '"Jane Doe" <jane@example.com>'}
    assert record["mail"]["callerIdentity"] == "IAM_user_or_role_name"


def test_processing_time_falls_back_to_the_time_since_the_request() -> None:
    message = dg_message("m", ("jane@example.com",))
    delivered = ev.RecipientDelivered(
        at=at("2016-01-27T14:59:40.000Z"), recipient="jane@example.com", smtp_response="250 ok"
    )
    record = identity_notification(
        "Delivery", delivered, message, publisher=DG_PUBLISHER, identity_name="x", headers=None
    )
    assert record["delivery"]["processingTimeMillis"] == 1763
    assert "remoteMtaIp" not in record["delivery"]
    assert "reportingMTA" not in record["delivery"]


def test_an_account_suppression_bounce_is_reported_as_ses_does() -> None:
    message = dg_message("m", ("listed@example.com",))
    suppressed = ev.RecipientSuppressed(
        at=at("2020-04-10T21:03:05.120Z"),
        recipient="listed@example.com",
        reason="BOUNCE",
        bounce_type="Permanent",
        bounce_subtype="OnAccountSuppressionList",
        status="5.1.1",
        diagnostic_code=ACCOUNT_SUPPRESSED_DIAGNOSTIC,
        reporting_mta="dns; amazonses.com",
        feedback_id="fb",
    )
    record = identity_notification(
        "Bounce", suppressed, message, publisher=DG_PUBLISHER, identity_name="x", headers=None
    )
    assert record["bounce"] == {
        "bounceType": "Permanent",
        "bounceSubType": "OnAccountSuppressionList",
        "bouncedRecipients": [
            {
                "emailAddress": "listed@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "Amazon SES did not send the message to this address because "
                "it is on the suppression list for your account. For more information about "
                "removing addresses from the suppression list, see the Amazon SES Developer "
                "Guide at https://docs.aws.amazon.com/ses/latest/DeveloperGuide/"
                "sending-email-suppression-list.html",
            }
        ],
        "timestamp": "2020-04-10T21:03:05.120Z",
        "feedbackId": "fb",
        "reportingMTA": "dns; amazonses.com",
    }


def test_an_expiry_bounce_is_the_observed_transient_4_4_7() -> None:
    message = dg_message("m", ("Alex.yentz@msa.Hines.net",))
    diagnostic = (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 840 minutes."
        "<421 4.4.1 Failed to establish connection>"
    )
    expired = ev.DeliveryExpired(
        at=at("2022-02-13T18:26:20.000Z"),
        recipient="Alex.yentz@msa.Hines.net",
        bounce_type="Transient",
        bounce_subtype="General",
        status="4.4.7",
        diagnostic_code=diagnostic,
        remote_mta_ip="64.99.80.121",
        reporting_mta="dns; a27-35.smtp-out.us-west-2.amazonses.com",
        feedback_id="fb",
    )
    record = identity_notification(
        "Bounce", expired, message, publisher=DG_PUBLISHER, identity_name="x", headers=None
    )
    assert record["bounce"] == {
        "bounceType": "Transient",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "Alex.yentz@msa.Hines.net",
                "action": "failed",
                "status": "4.4.7",
                "diagnosticCode": diagnostic,
            }
        ],
        "timestamp": "2022-02-13T18:26:20.000Z",
        "feedbackId": "fb",  # the observed payload is an excerpt without it
        "remoteMtaIp": "64.99.80.121",
        "reportingMTA": "dns; a27-35.smtp-out.us-west-2.amazonses.com",
    }


def test_an_auto_reply_is_a_transient_bounce_naming_only_the_address() -> None:
    message = dg_message("m", ("ooto@simulator.amazonses.com",))
    reply = ev.AutoReplyReported(
        at=at("2018-01-23T01:46:31.000Z"),
        recipient="ooto@simulator.amazonses.com",
        feedback_id="fb",
        subject="Out of office",
    )
    record = identity_notification(
        "Bounce", reply, message, publisher=DG_PUBLISHER, identity_name="x", headers=None
    )
    assert record["bounce"] == {
        "bounceType": "Transient",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "ooto@simulator.amazonses.com"}],
        "timestamp": "2018-01-23T01:46:31.000Z",
        "feedbackId": "fb",
    }


# --- event publishing (reference 4) -----------------------------------------------------

EP_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
EP_RAW = (
    b"From: sender@example.com\r\nTo: recipient@example.com\r\n"
    b"Subject: Message sent from Amazon SES\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; \r\n boundary="----=_Part_0_716996660.1476421336341"\r\n'
    b"X-SES-MESSAGE-TAGS: myCustomTag1=myCustomTagValue1, myCustomTag2=myCustomTagValue2\r\n"
    b"\r\nbody\r\n"
)


def ep_message(**fields: Any) -> ev.SendRequested:
    defaults: dict[str, Any] = {
        "at": at("2016-10-14T05:02:16.645Z"),
        "message_id": EP_ID,
        "source": "sender@example.com",
        "destinations": ("recipient@example.com",),
        "configuration_set": "ConfigSet",
        "source_ip": "192.0.2.0",
        "caller": "ses_user",
    }
    defaults.update(fields)
    return request(**defaults)


def publish(event: ev.Event, message: ev.SendRequested, event_type: str, raw: bytes | None) -> Any:
    return event_record(
        event_type,
        event,
        message,
        publisher=Publisher("us-east-1", "123456789012"),
        identity_name="sender@example.com",
        headers=None if raw is None else headers_of(raw, message),
    )


def without_operation(tags: dict[str, list[str]], operation: str = "SendRawEmail") -> Any:
    assert tags.pop("ses:operation") == [operation]
    return tags


def test_the_send_event_is_matched_field_for_field() -> None:
    message = ep_message(
        tags=(
            ev.Tag("myCustomTag1", "myCustomTagValue1"),
            ev.Tag("myCustomTag2", "myCustomTagValue2"),
        )
    )
    record = publish(ev.SendAccepted(at=message.at, expires_at=message.at), message, "Send", EP_RAW)
    record["mail"]["tags"] = without_operation(record["mail"]["tags"])
    assert record == {
        "eventType": "Send",
        "mail": {
            "timestamp": "2016-10-14T05:02:16.645Z",
            "source": "sender@example.com",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
            "sendingAccountId": "123456789012",
            "messageId": EP_ID,
            "destination": ["recipient@example.com"],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": "sender@example.com"},
                {"name": "To", "value": "recipient@example.com"},
                {"name": "Subject", "value": "Message sent from Amazon SES"},
                {"name": "MIME-Version", "value": "1.0"},
                {
                    "name": "Content-Type",
                    "value": 'multipart/mixed;  boundary="----=_Part_0_716996660.1476421336341"',
                },
                {
                    "name": "X-SES-MESSAGE-TAGS",
                    "value": "myCustomTag1=myCustomTagValue1, myCustomTag2=myCustomTagValue2",
                },
            ],
            "commonHeaders": {
                "from": ["sender@example.com"],
                "to": ["recipient@example.com"],
                "messageId": EP_ID,
                "subject": "Message sent from Amazon SES",
            },
            "tags": {
                "ses:configuration-set": ["ConfigSet"],
                "ses:source-ip": ["192.0.2.0"],
                "ses:from-domain": ["example.com"],
                "ses:caller-identity": ["ses_user"],
                "myCustomTag1": ["myCustomTagValue1"],
                "myCustomTag2": ["myCustomTagValue2"],
            },
        },
        "send": {},
    }


def test_the_bounce_event_has_no_remote_mta_ip() -> None:
    message = ep_message(source="Sender Name <sender@example.com>")
    bounce = ev.RecipientBounced(
        at=at("2017-08-05T00:41:02.669Z"),
        recipient="recipient@example.com",
        bounce_type="Permanent",
        bounce_subtype="General",
        status="5.1.1",
        diagnostic_code="smtp; 550 5.1.1 user unknown",
        remote_mta_ip="192.0.2.9",
        reporting_mta="dsn; mta.example.com",
        feedback_id="01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
    )
    record = publish(bounce, message, "Bounce", EP_RAW)
    assert record["bounce"] == {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    }
    assert record["mail"]["source"] == "Sender Name <sender@example.com>"
    assert set(record["mail"]) == {
        "timestamp", "source", "sourceArn", "sendingAccountId", "messageId", "destination",
        "headersTruncated", "headers", "commonHeaders", "tags",
    }  # fmt: skip
    assert list(record) == ["eventType", "mail", "bounce"]


def test_the_complaint_event_always_has_its_subtype() -> None:
    complaint = ev.ComplaintReported(
        at=at("2017-08-05T00:41:02.669Z"),
        recipient="recipient@example.com",
        feedback_id="01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        feedback_type="abuse",
        user_agent="Mozilla/5.0 (...)",
        arrival_date="2017-08-05T00:41:02.669Z",
    )
    record = publish(complaint, ep_message(), "Complaint", EP_RAW)
    assert record["complaint"] == {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "complaintSubType": None,
        "userAgent": "Mozilla/5.0 (...)",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    }


def test_the_delivery_event_is_matched_field_for_field() -> None:
    delivered = ev.RecipientDelivered(
        at=at("2016-10-19T23:21:04.133Z"),
        recipient="recipient@example.com",
        smtp_response="250 2.6.0 Message received",
        reporting_mta="mta.example.com",
        processing_ms=11893,
    )
    record = publish(delivered, ep_message(), "Delivery", EP_RAW)
    assert record["delivery"] == {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    }


def test_the_reject_event_says_bad_content() -> None:
    record = publish(
        ev.ContentRejected(at=at("2016-10-14T05:02:17Z")), ep_message(), "Reject", EP_RAW
    )
    assert record["reject"] == {"reason": "Bad content"}
    assert record["eventType"] == "Reject"


def test_the_rendering_failure_event_is_matched_field_for_field() -> None:
    message = ep_message(at=at("2018-01-22T18:43:06.197Z"), caller=None, source_ip=None)
    failed = ev.RenderingFailed(
        at=at("2018-01-22T18:43:06.300Z"),
        template_name="MyTemplate",
        error_message="Attribute 'attributeName' is not present in the rendering data.",
    )
    record = publish(failed, message, "Rendering Failure", None)
    tags = without_operation(record["mail"].pop("tags"))
    assert tags.pop("ses:from-domain") == ["example.com"]
    assert tags == {"ses:configuration-set": ["ConfigSet"]}
    assert record == {
        "eventType": "Rendering Failure",
        "mail": {
            "timestamp": "2018-01-22T18:43:06.197Z",
            "source": "sender@example.com",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
            "sendingAccountId": "123456789012",
            "messageId": EP_ID,
            "destination": ["recipient@example.com"],
            "headersTruncated": False,
        },
        "failure": {
            "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
            "templateName": "MyTemplate",
        },
    }


def test_the_delivery_delay_event_is_matched_field_for_field() -> None:
    message = ep_message(at=at("2020-06-16T00:15:40.641Z"))
    deferred = ev.RecipientDeferred(
        at=at("2020-06-16T00:25:40.095Z"),
        recipient="recipient@example.com",
        status="4.4.1",
        diagnostic_code="smtp; 421 4.4.1 Unable to connect to remote host",
        delay_type="TransientCommunicationFailure",
        next_attempt_at=at("2020-06-16T00:30:00Z"),
        expires_at=at("2020-06-16T00:25:40.914Z"),
    )
    record = publish(deferred, message, "DeliveryDelay", None)
    assert record["deliveryDelay"] == {
        "timestamp": "2020-06-16T00:25:40.095Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
        ],
    }
    assert record["mail"]["headersTruncated"] is False
    assert "headers" not in record["mail"]


# --- timestamps -------------------------------------------------------------------------


def test_timestamps_are_utc_milliseconds_with_a_z() -> None:
    assert ses_timestamp(at("2016-01-27T15:59:38.237999+01:00")) == "2016-01-27T14:59:38.237Z"
    assert ses_date_text("Wed, 27 Jan 2016 14:59:38 +0000") == "2016-01-27T14:59:38.000Z"
    assert ses_date_text("2016-01-27T14:59:38Z") == "2016-01-27T14:59:38.000Z"
    assert ses_date_text("yesterday") == "yesterday"
