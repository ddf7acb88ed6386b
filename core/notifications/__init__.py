"""Notifications, pure: from an event, the message's request and its settings as of the
event, the SES JSON each destination gets (``routing.plan``), with stable ids (``ids``),
and the forwarded feedback mail (``forwarding``).

- ``headers``: ``headers``/``headersTruncated``/``commonHeaders`` from the stored request.
- ``records``: the SES JSON objects, field for field.
- ``routing``: which events notify whom (identity topics, event destinations, email).
- ``identity``: the sending identity and its ARN.
"""

from sendtrail.core.notifications.headers import (
    MailHeaders,
    Stored,
    decode_request_content,
    mail_headers,
)
from sendtrail.core.notifications.ids import notification_id, stream_id
from sendtrail.core.notifications.records import (
    DEFAULT_ACCOUNT_ID,
    Publisher,
    encode_record,
    event_record,
    identity_notification,
)
from sendtrail.core.notifications.routing import (
    EMAIL,
    EVENT,
    IDENTITY,
    IDENTITY_EVENTS,
    NOTIFYING_EVENTS,
    Planned,
    Route,
    Sender,
    plan,
)
from sendtrail.core.notifications.timestamps import ses_timestamp

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "EMAIL",
    "EVENT",
    "IDENTITY",
    "IDENTITY_EVENTS",
    "NOTIFYING_EVENTS",
    "MailHeaders",
    "Planned",
    "Publisher",
    "Route",
    "Sender",
    "Stored",
    "decode_request_content",
    "encode_record",
    "event_record",
    "identity_notification",
    "mail_headers",
    "notification_id",
    "plan",
    "ses_timestamp",
    "stream_id",
]
