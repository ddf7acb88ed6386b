"""Sending quota policy: token-bucket rate, rolling daily quota, simulator exemption."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.acceptance.errors import Condition, SesError
from sendtrail.core.acceptance.quotas import (
    SANDBOX_QUOTA,
    UNLIMITED,
    RateBucket,
    SendQuota,
    admit_send,
    full_bucket,
    refill,
)

PRODUCTION = SendQuota(max_send_rate=14.0, max_24_hour_send=50_000.0)


def refused(
    quota: SendQuota, bucket: RateBucket | None, *, now: float, recipients: int, sent: float
) -> SesError:
    with pytest.raises(SesError) as caught:
        admit_send(quota, bucket, now=now, recipients=recipients, sent_last_24_hours=sent)
    return caught.value


def test_sandbox_defaults_are_200_a_day_and_1_a_second() -> None:
    assert SANDBOX_QUOTA.max_24_hour_send == 200
    assert SANDBOX_QUOTA.max_send_rate == 1


def test_a_first_send_starts_from_a_full_bucket_and_spends_per_recipient() -> None:
    # Given an account that has not sent yet
    # When it sends to three recipients
    grant = admit_send(PRODUCTION, None, now=100.0, recipients=3, sent_last_24_hours=0)
    # Then three tokens are spent and three recipients count toward the day
    assert grant.bucket == RateBucket(tokens=11.0, updated_at=100.0)
    assert grant.counted_toward_daily == 3


def test_multi_recipient_send_succeeds_then_blocks_until_rate_refills() -> None:
    # Given a rate of one per second (SES's own example)
    bucket = full_bucket(SANDBOX_QUOTA, now=0.0)
    # When a message goes to five recipients at once
    grant = admit_send(SANDBOX_QUOTA, bucket, now=0.0, recipients=5, sent_last_24_hours=0)
    # Then it is allowed, every send in the next five seconds fails, then sending resumes
    for moment in (0.5, 1.0, 2.0, 4.0, 4.9):
        error = refused(
            quota=SANDBOX_QUOTA,
            bucket=grant.bucket,
            now=moment,
            recipients=1,
            sent=5,
        )
        assert error.condition is Condition.RATE_EXCEEDED
        assert error.code == "Throttling"
        assert error.message == "Maximum sending rate exceeded."
        assert error.v2_status == 429
    later = admit_send(SANDBOX_QUOTA, grant.bucket, now=5.0, recipients=1, sent_last_24_hours=5)
    assert later.bucket.tokens == pytest.approx(0.0)


def test_short_bursts_up_to_one_second_of_rate_are_allowed() -> None:
    # Given a rate of 14/s and a full bucket
    bucket = full_bucket(PRODUCTION, now=0.0)
    # When 14 single-recipient sends arrive in the same instant
    for _ in range(14):
        bucket = admit_send(PRODUCTION, bucket, now=0.0, recipients=1, sent_last_24_hours=0).bucket
    # Then the 15th is throttled
    error = refused(quota=PRODUCTION, bucket=bucket, now=0.0, recipients=1, sent=0)
    assert error.condition is Condition.RATE_EXCEEDED


def test_daily_quota_allows_overshoot_while_any_quota_remains() -> None:
    # Given 199 of 200 sent in the last 24 hours
    grant = admit_send(SANDBOX_QUOTA, None, now=0.0, recipients=5, sent_last_24_hours=199)
    # Then a five-recipient send still goes through
    assert grant.counted_toward_daily == 5


def test_daily_quota_exhausted_refuses_with_ses_text() -> None:
    # Given the whole daily quota used
    error = refused(quota=SANDBOX_QUOTA, bucket=None, now=0.0, recipients=1, sent=200)
    # Then the daily error is returned
    assert error.condition is Condition.DAILY_QUOTA_EXCEEDED
    assert error.code == "Throttling"
    assert error.message == "Daily message quota exceeded."
    assert error.smtp_reply == "454 Throttling failure: Daily message quota exceeded."


def test_daily_quota_is_reported_before_the_rate() -> None:
    empty = RateBucket(tokens=-3.0, updated_at=0.0)
    error = refused(quota=SANDBOX_QUOTA, bucket=empty, now=0.0, recipients=1, sent=200)
    assert error.condition is Condition.DAILY_QUOTA_EXCEEDED


def test_simulator_recipients_count_for_rate_but_not_daily_quota() -> None:
    # Given an exhausted daily quota
    # When every recipient is a simulator address
    grant = admit_send(
        SANDBOX_QUOTA,
        None,
        now=0.0,
        recipients=2,
        simulator_recipients=2,
        sent_last_24_hours=200,
    )
    # Then the send passes, spends rate tokens, and adds nothing to the day
    assert grant.counted_toward_daily == 0
    assert grant.bucket.tokens == pytest.approx(-1.0)


def test_mixed_send_counts_only_real_recipients_toward_the_day() -> None:
    grant = admit_send(
        PRODUCTION, None, now=0.0, recipients=4, simulator_recipients=1, sent_last_24_hours=0
    )
    assert grant.counted_toward_daily == 3
    assert grant.bucket.tokens == pytest.approx(10.0)


def test_unlimited_daily_quota_never_refuses() -> None:
    quota = SendQuota(max_send_rate=100.0, max_24_hour_send=UNLIMITED)
    grant = admit_send(quota, None, now=0.0, recipients=50, sent_last_24_hours=10**9)
    assert grant.counted_toward_daily == 50


def test_refill_is_capped_and_ignores_a_clock_going_backwards() -> None:
    bucket = RateBucket(tokens=-2.0, updated_at=10.0)
    assert refill(bucket, PRODUCTION, now=1000.0).tokens == PRODUCTION.bucket_capacity
    assert refill(bucket, PRODUCTION, now=5.0) == RateBucket(tokens=-2.0, updated_at=10.0)


def test_invalid_simulator_count_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        admit_send(
            PRODUCTION, None, now=0.0, recipients=1, simulator_recipients=2, sent_last_24_hours=0
        )


sends = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=3.0), st.integers(min_value=1, max_value=50)),
    min_size=1,
    max_size=60,
)


@given(rate=st.sampled_from([1.0, 2.5, 14.0, 200.0]), schedule=sends)
def test_admitted_volume_never_outruns_the_rate(
    rate: float, schedule: list[tuple[float, int]]
) -> None:
    # Given any schedule of sends (gap since the previous one, recipients)
    quota = SendQuota(max_send_rate=rate, max_24_hour_send=UNLIMITED)
    bucket: RateBucket | None = None
    now = 0.0
    admitted: list[tuple[float, int]] = []
    # When each is offered to the policy, keeping the state it returns
    for gap, recipients in schedule:
        now += gap
        try:
            grant = admit_send(quota, bucket, now=now, recipients=recipients, sent_last_24_hours=0)
        except SesError as error:
            assert error.condition is Condition.RATE_EXCEEDED
            continue
        bucket = grant.bucket
        admitted.append((now, recipients))
        # Then the bucket never holds more than its capacity
        assert bucket.tokens <= quota.bucket_capacity
    # And everything admitted before the last send fits the capacity plus what the rate
    # refilled: only the last send may overshoot, by SES's multi-recipient rule
    if admitted:
        first, last = admitted[0][0], admitted[-1][0]
        before_last = sum(recipients for _, recipients in admitted[:-1])
        assert before_last <= quota.bucket_capacity - 1 + rate * (last - first) + 1e-6
