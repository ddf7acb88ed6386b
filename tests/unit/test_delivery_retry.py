"""The retry schedule, the delivery window and SES's expiry bounce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.delivery import retry
from sendtrail.core.delivery.outcomes import connection_timed_out

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIDDLE = 0.5  # jitter that leaves the interval at its nominal length


def test_given_no_jitter_then_retries_follow_the_documented_minutes() -> None:
    expires = retry.expires_at(T0)
    times, now = [], T0
    for attempt in range(1, 9):
        now = retry.next_attempt_at(T0, attempt, now, MIDDLE, expires_at=expires)
        times.append((now - T0).total_seconds() / 60)

    assert times == [1, 3, 7, 15, 31, 63, 123, 183]


def test_given_the_default_window_then_about_twenty_attempts_the_last_at_the_deadline() -> None:
    expires = retry.expires_at(T0)
    attempts, now = 1, T0
    while not retry.is_expired(expires, now):
        now = retry.next_attempt_at(T0, attempts, now, MIDDLE, expires_at=expires)
        attempts += 1

    assert attempts == 20
    assert now == expires


def test_given_jitter_extremes_then_the_interval_moves_by_at_most_twenty_percent() -> None:
    expires = retry.expires_at(T0)

    low = retry.next_attempt_at(T0, 3, T0, 0.0, expires_at=expires)
    high = retry.next_attempt_at(T0, 3, T0, 0.999999, expires_at=expires)

    # Attempt 4 is due 3 min + 4 min (±20%) after the first.
    assert low == T0 + timedelta(minutes=3) + timedelta(seconds=240 * 0.8)
    assert timedelta(minutes=3, seconds=287) < high - T0 < timedelta(minutes=3, seconds=288)


def test_given_a_late_attempt_then_the_retry_is_at_least_a_minute_away() -> None:
    expires = retry.expires_at(T0)
    late = T0 + timedelta(hours=2)  # e.g. the workers were down

    nxt = retry.next_attempt_at(T0, 2, late, MIDDLE, expires_at=expires)

    assert nxt == late + timedelta(seconds=60)


def test_given_the_deadline_is_near_then_the_retry_is_clamped_to_it() -> None:
    expires = retry.expires_at(T0, 300)

    nxt = retry.next_attempt_at(T0, 3, T0 + timedelta(minutes=3), MIDDLE, expires_at=expires)

    assert nxt == T0 + timedelta(minutes=5)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2.0])
def test_jitter_outside_the_unit_interval_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        retry.next_attempt_at(T0, 1, T0, bad, expires_at=retry.expires_at(T0))


def test_naive_datetimes_and_attempt_zero_are_refused() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError):
        retry.next_attempt_at(naive, 1, naive, 0.5, expires_at=retry.expires_at(T0))
    with pytest.raises(ValueError):
        retry.next_attempt_at(T0, 0, T0, 0.5, expires_at=retry.expires_at(T0))


def test_given_max_delivery_seconds_then_window_bounds_follow_ses() -> None:
    assert retry.expires_at(T0) == T0 + timedelta(minutes=840)
    assert retry.expires_at(T0, 300) == T0 + timedelta(minutes=5)
    for bad in (299, 50_401):
        with pytest.raises(ValueError):
            retry.expires_at(T0, bad)
    assert not retry.is_expired(T0 + timedelta(minutes=840), T0 + timedelta(minutes=839))
    assert retry.is_expired(T0 + timedelta(minutes=840), T0 + timedelta(minutes=840))


def test_expiration_time_is_utc_with_milliseconds() -> None:
    moment = datetime(2020, 6, 16, 2, 25, 40, 914_321, tzinfo=timezone(timedelta(hours=2)))

    assert retry.expiration_time(moment) == "2020-06-16T00:25:40.914Z"


def test_given_the_window_closed_after_connection_failures_then_ses_expiry_bounce() -> None:
    outcome = retry.expiry_outcome(50_400, connection_timed_out().last_error)

    assert outcome.kind == "hard" and outcome.action == "failed"
    assert (outcome.bounce_type, outcome.bounce_subtype, outcome.status) == (
        "Transient",
        "General",
        "4.4.7",
    )
    assert outcome.diagnostic_code == (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 840 minutes."
        "<421 4.4.1 Failed to establish connection>"
    )


def test_given_a_short_window_and_a_stored_diagnostic_then_minutes_and_error_as_ses() -> None:
    outcome = retry.expiry_outcome(600, "smtp; 421 4.4.0 Unable to lookup DNS for example.com")

    assert outcome.diagnostic_code == (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 10 minutes."
        "<421 4.4.0 Unable to lookup DNS for example.com>"
    )
    assert retry.expiry_outcome(301).diagnostic_code == (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 5 minutes."
    )


jitters = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(
    window=st.integers(retry.MIN_MAX_DELIVERY_SECONDS, retry.MAX_MAX_DELIVERY_SECONDS),
    steps=st.lists(st.tuples(jitters, st.integers(0, 900)), min_size=1, max_size=40),
)
def test_retries_are_monotonic_after_now_and_never_past_expiry(
    window: int, steps: list[tuple[float, int]]
) -> None:
    """A recipient soft-bounces on every attempt; each attempt takes 0-15 minutes."""
    expires = retry.expires_at(T0, window)
    now, previous = T0, T0
    for attempt, (jitter, duration) in enumerate(steps, start=1):
        if retry.is_expired(expires, now):
            break
        nxt = retry.next_attempt_at(T0, attempt, now, jitter, expires_at=expires)
        assert now < nxt <= expires
        assert nxt >= previous
        previous = nxt
        now = nxt + timedelta(seconds=duration)


@given(attempt=st.integers(1, 500), jitter=jitters, late=st.integers(0, 50_400))
def test_a_later_attempt_is_never_scheduled_before_an_earlier_one(
    attempt: int, jitter: float, late: int
) -> None:
    expires = retry.expires_at(T0)
    now = T0 + timedelta(seconds=late)

    earlier = retry.next_attempt_at(T0, attempt, now, jitter, expires_at=expires)
    later = retry.next_attempt_at(T0, attempt + 1, now, jitter, expires_at=expires)

    assert earlier <= later <= expires
