"""When to try a soft-bounced recipient again, and when to give up.

SES does not publish its schedule, so sendtrail chooses one: the first retry after about a
minute (greylisting usually lets a sender in after one to five minutes, and SES users expect mail
to move quickly), doubling to a cap of one hour (between Postfix's ~67 minutes and RFC 5321's "at
least 30 minutes" for long waits). Nominal retries therefore fall 1, 3, 7, 15, 31, 63 and 123
minutes after the first attempt, then hourly: about 20 attempts in SES's 840-minute window.

The schedule is anchored to the first attempt rather than to the previous one, so a slow attempt
(a five-minute connect timeout) does not push every later attempt back. Each interval is jittered
by ±20% with a caller-supplied random number, so messages that failed together (a remote outage)
do not come back together. A retry is never earlier than about a minute from `now`, and never
later than the expiry, so the last attempt happens right at the deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sendtrail.core.delivery.classification import BounceSubType, BounceType
from sendtrail.core.delivery.outcomes import AttemptOutcome, OutcomeKind

FIRST_RETRY_SECONDS = 60
BACKOFF_FACTOR = 2
MAX_RETRY_INTERVAL_SECONDS = 3600
JITTER_SPREAD = 0.2  # each interval is scaled by a factor in [1 - spread, 1 + spread)

# SES `MaxDeliverySeconds` (configuration set `DeliveryOptions`): 300..50400, 840 minutes default.
MIN_MAX_DELIVERY_SECONDS = 300
MAX_MAX_DELIVERY_SECONDS = 50400
DEFAULT_MAX_DELIVERY_SECONDS = 50400

EXPIRED_STATUS = "4.4.7"


def _uncapped_intervals() -> int:
    """How many intervals grow before the cap applies (6 with the constants above)."""
    count, interval = 0, FIRST_RETRY_SECONDS
    while interval < MAX_RETRY_INTERVAL_SECONDS:
        count, interval = count + 1, interval * BACKOFF_FACTOR
    return count


_UNCAPPED = _uncapped_intervals()


def retry_interval(attempt_number: int) -> int:
    """Nominal seconds between attempt `attempt_number` and the next one (no jitter)."""
    if attempt_number > _UNCAPPED:
        return MAX_RETRY_INTERVAL_SECONDS
    return FIRST_RETRY_SECONDS * BACKOFF_FACTOR ** (attempt_number - 1)


def _offset(attempts: int) -> int:
    """Nominal seconds from the first attempt to attempt `attempts + 1`."""
    grown = min(attempts, _UNCAPPED)
    # Geometric sum of the growing intervals, then the capped ones.
    total = FIRST_RETRY_SECONDS * (BACKOFF_FACTOR**grown - 1) // (BACKOFF_FACTOR - 1)
    return total + (attempts - grown) * MAX_RETRY_INTERVAL_SECONDS


def _jitter_factor(jitter: float) -> float:
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1): {jitter}")
    return 1.0 + JITTER_SPREAD * (2.0 * jitter - 1.0)


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware: {value!r}")


def next_attempt_at(
    first_attempt_at: datetime,
    attempt_number: int,
    now: datetime,
    jitter: float,
    *,
    expires_at: datetime,
) -> datetime:
    """When to make attempt `attempt_number + 1`, after attempt `attempt_number` failed at `now`.

    `jitter` is a uniform random number in [0, 1). The result is later than `now` unless the
    window has already closed (check `is_expired` first), and never later than `expires_at`.
    """
    _require_aware(first_attempt_at=first_attempt_at, now=now, expires_at=expires_at)
    if attempt_number < 1:
        raise ValueError(f"attempt_number counts attempts made, from 1: {attempt_number}")
    factor = _jitter_factor(jitter)
    nominal = first_attempt_at + timedelta(
        seconds=_offset(attempt_number - 1) + retry_interval(attempt_number) * factor
    )
    earliest = now + timedelta(seconds=FIRST_RETRY_SECONDS * factor)
    return min(max(nominal, earliest), expires_at)


def _check_window(max_delivery_seconds: int) -> None:
    if not MIN_MAX_DELIVERY_SECONDS <= max_delivery_seconds <= MAX_MAX_DELIVERY_SECONDS:
        raise ValueError(
            f"MaxDeliverySeconds must be between {MIN_MAX_DELIVERY_SECONDS} and "
            f"{MAX_MAX_DELIVERY_SECONDS}: {max_delivery_seconds}"
        )


def expires_at(
    accepted_at: datetime, max_delivery_seconds: int = DEFAULT_MAX_DELIVERY_SECONDS
) -> datetime:
    """When SES stops retrying a message accepted at `accepted_at`."""
    _require_aware(accepted_at=accepted_at)
    _check_window(max_delivery_seconds)
    return accepted_at + timedelta(seconds=max_delivery_seconds)


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether a soft failure at `now` is final: the window is over."""
    return now >= expires_at


def expiration_time(expires_at: datetime) -> str:
    """`deliveryDelay.expirationTime` as SES writes it: UTC, milliseconds, `Z`."""
    _require_aware(expires_at=expires_at)
    utc = expires_at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def expiry_outcome(
    max_delivery_seconds: int = DEFAULT_MAX_DELIVERY_SECONDS, last_error: str | None = None
) -> AttemptOutcome:
    """The final bounce SES sends when the window closes without a delivery.

    `last_error` is the last soft failure as SES quotes it (`AttemptOutcome.last_error`, e.g.
    `421 4.4.1 Failed to establish connection`); a leading `smtp; ` is dropped.
    """
    _check_window(max_delivery_seconds)
    minutes = max_delivery_seconds // 60
    diagnostic = f"smtp; 550 4.4.7 Message expired: unable to deliver in {minutes} minutes."
    if last_error:
        diagnostic += f"<{last_error.removeprefix('smtp; ')}>"
    return AttemptOutcome(
        kind=OutcomeKind.HARD,
        status=EXPIRED_STATUS,
        diagnostic_code=diagnostic,
        bounce_type=BounceType.TRANSIENT,
        bounce_subtype=BounceSubType.GENERAL,
    )
