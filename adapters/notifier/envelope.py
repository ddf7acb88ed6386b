"""The SNS envelope around an SES record, as an SNS HTTP(S) subscription receives it.

``Type: Notification``, ``MessageId`` (the notification id), ``TopicArn``, ``Subject`` (null
for identity notifications, ``Amazon SES Email Event Notification`` for event publishing),
``Message`` (the SES JSON as a string), ``Timestamp`` (when the notification was made, so
every retry carries the same body), and ``SignatureVersion``/``Signature``/``SigningCertURL``/
``UnsubscribeURL``. The signature is not AWS's (see ``signing``) and the URLs point at
``[notifications] sns_base_url``, not at AWS.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from sendtrail.core import notifications as notify

from .outbox import OutboxRow
from .signing import sns_signature

EVENT_SUBJECT = "Amazon SES Email Event Notification"
_SUBSCRIPTIONS = uuid.UUID("9b5f3f0e-3c1e-5d4b-8a57-2a6f9e0c7d11")


def subscription_arn(topic_arn: str, url: str) -> str:
    """A stable subscription ARN for the (topic, webhook) pair, as SNS names subscriptions."""
    return f"{topic_arn}:{uuid.uuid5(_SUBSCRIPTIONS, f'{topic_arn} {url}')}"


def sns_envelope(
    row: OutboxRow, *, url: str, secret: str | None, base_url: str
) -> tuple[bytes, dict[str, str]]:
    """The body and the SNS headers of the POST for ``row``."""
    subscription = subscription_arn(row.target, url)
    fields: dict[str, str | None] = {
        "Type": "Notification",
        "MessageId": row.notification_id,
        "TopicArn": row.target,
        "Subject": None if row.channel == notify.IDENTITY else EVENT_SUBJECT,
        "Message": row.payload.decode("utf-8"),
        "Timestamp": notify.ses_timestamp(row.created),
        "SignatureVersion": "1",
    }
    fields["Signature"] = sns_signature(secret, fields)
    fields["SigningCertURL"] = f"{base_url}/SimpleNotificationService-sendtrail.pem"
    fields["UnsubscribeURL"] = (
        f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription, safe=':')}"
    )
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": row.notification_id,
        "x-amz-sns-topic-arn": row.target,
        "x-amz-sns-subscription-arn": subscription,
    }
    # SNS writes its JSON indented, one field a line; receivers parse it either way.
    return json.dumps(fields, indent=2).encode("utf-8"), headers
