"""SES's sending quotas as a pure policy: state in, state out, `now` given.

Both quotas count recipients, not messages. SES's own description of the edge (sesblog,
quoted in django-ses#59): a multi-recipient send goes through if *any* quota remains, and
then later sends fail until the quota has built up again ("with a rate of one per second, a
message to five recipients is allowed; for the next five seconds every send fails"). So:

- `MaxSendRate` is a token bucket holding up to one second's worth of sends (the burst
  SES tolerates). A send needs one whole token; it then takes one per recipient and may
  leave the bucket in debt, which refills at `max_send_rate` per second.
- `Max24HourSend` is checked against the count sent in the rolling last 24 hours, which
  the caller supplies; a send needs at least one unit left and may overshoot it.
  The DG's shorter "a send that would exceed it is rejected" reads the other way; the
  blog's explicit multi-recipient example is followed (UNCONFIRMED).
- Mailbox simulator recipients count against the rate, never against the daily quota.
- The daily quota is checked first: once it is spent, "Daily message quota exceeded." is
  the more useful answer than a throttle that retrying would not cure.

A refused send changes nothing: the caller keeps its previous bucket.
"""

from __future__ import annotations

import msgspec

from sendtrail.core.acceptance import errors

UNLIMITED = -1.0

# A float refill can land a hair under a whole token (0.1 * 10 != 1.0).
_EPSILON = 1e-9


class SendQuota(msgspec.Struct, frozen=True):
    """`GetSendQuota`'s limits: `max_24_hour_send` of -1 means unlimited."""

    max_send_rate: float
    max_24_hour_send: float
    burst_seconds: float = 1.0  # how many seconds of sending the bucket can save up

    @property
    def bucket_capacity(self) -> float:
        # At least one whole send, or a rate under 1/s could never send at all.
        return max(self.max_send_rate * self.burst_seconds, 1.0)


SANDBOX_QUOTA = SendQuota(max_send_rate=1.0, max_24_hour_send=200.0)


class RateBucket(msgspec.Struct, frozen=True):
    """Token bucket state; `updated_at` is in seconds on the caller's clock."""

    tokens: float
    updated_at: float


class QuotaGrant(msgspec.Struct, frozen=True):
    """An admitted send: the bucket to keep, and how many recipients to add to the
    rolling 24-hour count (simulator recipients excluded)."""

    bucket: RateBucket
    counted_toward_daily: int


def full_bucket(quota: SendQuota, now: float) -> RateBucket:
    """The state of an account that has not sent for a while."""
    return RateBucket(tokens=quota.bucket_capacity, updated_at=now)


def refill(bucket: RateBucket, quota: SendQuota, now: float) -> RateBucket:
    """The bucket as it stands at `now`. A clock that went backwards adds nothing."""
    elapsed = max(0.0, now - bucket.updated_at)
    tokens = min(quota.bucket_capacity, bucket.tokens + elapsed * quota.max_send_rate)
    return RateBucket(tokens=tokens, updated_at=max(now, bucket.updated_at))


def admit_send(
    quota: SendQuota,
    bucket: RateBucket | None,
    *,
    now: float,
    recipients: int,
    simulator_recipients: int = 0,
    sent_last_24_hours: float,
) -> QuotaGrant:
    """Admit a send to `recipients` addresses (of which `simulator_recipients` are mailbox
    simulator addresses) or raise SES's throttling error. `bucket=None` starts full."""
    if recipients < 0 or not 0 <= simulator_recipients <= recipients:
        raise ValueError("simulator_recipients must be between 0 and recipients")
    counted = recipients - simulator_recipients
    if (
        counted > 0
        and quota.max_24_hour_send != UNLIMITED
        and sent_last_24_hours + _EPSILON >= quota.max_24_hour_send
    ):
        raise errors.daily_quota_exceeded()

    current = refill(bucket or full_bucket(quota, now), quota, now)
    if current.tokens + _EPSILON < 1.0:
        raise errors.rate_exceeded()
    spent = RateBucket(tokens=current.tokens - recipients, updated_at=current.updated_at)
    return QuotaGrant(bucket=spent, counted_toward_daily=counted)
