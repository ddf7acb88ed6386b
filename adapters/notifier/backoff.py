"""When to try a failing endpoint again: exponential backoff with jitter."""

from __future__ import annotations


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before the attempt after failed ``attempt`` (1, 2, ...).

    The delay doubles per attempt up to ``cap``; ``jitter`` (0 <= jitter < 1, drawn by the
    caller) spreads it over its upper half, so endpoints that failed together do not all
    come back at the same instant, and no retry comes sooner than half the schedule.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling * (0.5 + jitter / 2)
