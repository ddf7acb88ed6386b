"""What the engine is told after an attempt: one outcome becomes the commands SES's fields need.

The deliverer found facts (``AttemptOutcome``); here they are addressed to the message with
what only the adapter knows: the time, a new feedback id, the random jitter of the retry, our
own host name, and whether the retry window has closed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from sendtrail.core import commands as cmd
from sendtrail.core import ids
from sendtrail.core.delivery import retry
from sendtrail.core.delivery.classification import BounceSubType, BounceType, DelayType
from sendtrail.core.delivery.outcomes import AttemptOutcome, OutcomeKind
from sendtrail.core.state import MessageState, RecipientState

SuppressionPolicyOf = Callable[[MessageState, str], cmd.SuppressionPolicy]


class Reporter:
    def __init__(
        self,
        *,
        ehlo_name: str,
        region: str,
        new_uuid: Callable[[], UUID],
        jitter: Callable[[], float],
        suppression: SuppressionPolicyOf | None = None,
        on_delivered: Callable[[float], None] | None = None,
    ) -> None:
        self._ehlo_name = ehlo_name
        self._on_delivered = on_delivered  # seconds from acceptance, for the latency metric
        # Whether a permanent bounce lists the address: the account's or configuration set's
        # reasons for the message, and whether the recipient is a simulator address.
        self._suppression = suppression
        self._region = region
        self._new_uuid = new_uuid
        self._jitter = jitter  # uniform in [0, 1): spreads retries of mail that failed together

    def commands(
        self,
        message: MessageState,
        recipient: str,
        outcome: AttemptOutcome,
        remote_ip: str | None,
        now: datetime,
    ) -> list[cmd.Command]:
        """The commands reporting ``outcome`` for ``recipient``, in the order to execute them."""
        message_id = message.message_id
        if outcome.kind is OutcomeKind.DELIVERED:
            if self._on_delivered is not None:
                self._on_delivered((now - message.requested_at).total_seconds())
            return [
                cmd.ReportDelivered(
                    message_id=message_id,
                    recipient=recipient,
                    smtp_response=outcome.smtp_response or "250 OK",
                    remote_mta_ip=remote_ip,
                    reporting_mta=self._ehlo_name,
                    processing_ms=_millis(now - message.requested_at),
                )
            ]
        if outcome.kind is OutcomeKind.HARD:
            return [
                cmd.ReportHardFailure(
                    message_id=message_id,
                    recipient=recipient,
                    bounce_type=str(outcome.bounce_type or BounceType.UNDETERMINED),
                    bounce_subtype=str(outcome.bounce_subtype or BounceSubType.UNDETERMINED),
                    status=outcome.status or "5.0.0",
                    diagnostic_code=outcome.diagnostic_code or "",
                    feedback_id=self.feedback_id(now),
                    remote_mta_ip=remote_ip,
                    # SES's bounce object names the reporter as a DSN would: "dsn; <host>".
                    reporting_mta=outcome.reporting_mta or f"dsn; {self._ehlo_name}",
                    suppression=(
                        self._suppression(message, recipient)
                        if self._suppression is not None
                        else cmd.NO_SUPPRESSION
                    ),
                )
            ]
        soft: list[cmd.Command] = [
            cmd.ReportSoftFailure(
                message_id=message_id,
                recipient=recipient,
                status=outcome.status or "4.0.0",
                diagnostic_code=outcome.diagnostic_code or "",
                delay_type=str(outcome.delay_type or DelayType.UNDETERMINED),
                jitter=self._jitter(),
                remote_mta_ip=remote_ip,
                reporting_mta=outcome.reporting_mta or self._ehlo_name,
            )
        ]
        expiry = self.expiry(message, message.recipient(recipient), now)
        return soft if expiry is None else [*soft, expiry]

    def expiry(
        self, message: MessageState, recipient: RecipientState, now: datetime
    ) -> cmd.ExpireDelivery | None:
        """``ExpireDelivery`` when the recipient's retry window has closed at ``now``."""
        expires_at = recipient.expires_at or message.expires_at
        if expires_at is None or not retry.is_expired(expires_at, now):
            return None
        return cmd.ExpireDelivery(
            message_id=message.message_id,
            recipient=recipient.address,
            feedback_id=self.feedback_id(now),
            max_delivery_seconds=window_seconds(message, expires_at),
            # As in SES's expiry bounces: "dns; a27-35.smtp-out.us-west-2.amazonses.com".
            reporting_mta=f"dns; {self._ehlo_name}",
        )

    def feedback_id(self, now: datetime) -> str:
        """A bounce's ``feedbackId``: SES gives it the format of a message id."""
        return ids.message_id(self._region, now, self._new_uuid())


def window_seconds(message: MessageState, expires_at: datetime) -> int:
    """The message's MaxDeliverySeconds, from when it was accepted to when it expires."""
    seconds = round((expires_at - message.requested_at).total_seconds())
    return min(max(seconds, retry.MIN_MAX_DELIVERY_SECONDS), retry.MAX_MAX_DELIVERY_SECONDS)


def _millis(elapsed: timedelta) -> int:
    return max(0, int(elapsed.total_seconds() * 1000))
