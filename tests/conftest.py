from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sendtrail.adapters.clock import ManualClock

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)
