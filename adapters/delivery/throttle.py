"""Politeness per recipient domain: transactions in flight at once, and started per second."""

from __future__ import annotations

from collections import Counter
from typing import Final, Protocol

# Forget idle domains past this many (a full bucket is as good as a new one).
MAX_REMEMBERED_DOMAINS: Final = 10_000


class DomainAdmission(Protocol):
    """Whether a transaction to a domain may start now; told when one ends."""

    def admit(self, domain: str, now: float) -> float | None:
        """None when ``domain`` may start a transaction now (and it counts as started);
        otherwise how long to wait: 0.0 means "until one of its transactions ends"."""
        ...

    def finished(self, domain: str) -> None: ...


class TokenBucket:
    """``rate`` tokens per second, bursts of up to one second's worth."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> float:
        """0 when a token was taken, otherwise the seconds until one is available."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class DomainLimits:
    """At most ``max_in_flight`` transactions per domain, started at most ``rate`` per second
    (0: no rate limit). Times are ``time.monotonic()`` readings."""

    def __init__(self, max_in_flight: int, rate: float) -> None:
        if max_in_flight < 1 or rate < 0:
            raise ValueError("a domain needs at least one transaction in flight, rate >= 0")
        self._max_in_flight = max_in_flight
        self._rate = rate
        self._in_flight: Counter[str] = Counter()
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, domain: str, now: float) -> float | None:
        if self._in_flight[domain] >= self._max_in_flight:
            return 0.0
        if self._rate > 0:
            wait = self._bucket(domain, now).take(now)
            if wait > 0:
                return wait
        self._in_flight[domain] += 1
        return None

    def finished(self, domain: str) -> None:
        self._in_flight[domain] -= 1
        if self._in_flight[domain] <= 0:
            del self._in_flight[domain]

    def _bucket(self, domain: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(domain)
        if bucket is None:
            if len(self._buckets) >= MAX_REMEMBERED_DOMAINS:
                self._buckets = {d: b for d, b in self._buckets.items() if not b.full(now)}
            bucket = self._buckets[domain] = TokenBucket(self._rate, now)
        return bucket
