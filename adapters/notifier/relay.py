"""Feedback forwarded by email, through the configured SMTP relay.

The envelope sender is empty (``MAIL FROM:<>``), as for any delivery status notification: a
forwarded bounce that cannot be delivered must not bounce in its turn.
"""

from __future__ import annotations

import aiosmtplib
import msgspec

from sendtrail.core.notifications.forwarding import forwarded_feedback

from .outbox import OutboxRow
from .webhook import Outcome


class FeedbackMailer:
    def __init__(self, relay: str | None, *, from_domain: str, timeout: float) -> None:
        self._relay = relay
        self._from_domain = from_domain
        self._timeout = timeout

    def message(self, row: OutboxRow) -> bytes:
        return forwarded_feedback(
            msgspec.json.decode(row.payload),
            event_type=row.event_type,
            to=row.target,
            from_domain=self._from_domain,
            notification_id=row.notification_id,
            date=row.created,
        )

    async def send(self, row: OutboxRow) -> Outcome:
        if self._relay is None:
            return Outcome(False, "no [notifications] relay to forward feedback through", True)
        host, _, port = self._relay.rpartition(":")
        client = aiosmtplib.SMTP(
            hostname=host.strip("[]"), port=int(port), timeout=self._timeout, start_tls=False
        )
        try:
            async with client:
                # sendmail, not aiosmtplib.send: that one refuses the empty sender.
                errors, reply = await client.sendmail("", [row.target], self.message(row))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return Outcome(False, f"{type(error).__name__}: {error}".strip())
        if errors:
            return Outcome(False, "; ".join(f"{rcpt}: {answer}" for rcpt, answer in errors.items()))
        return Outcome(True, reply)
