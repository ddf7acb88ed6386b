"""Where the scheduler takes its work from: the delivery queue, as one process sees it.

The queue itself is a projection (``delivery_queue``: recipients awaiting an attempt, by
when it is due). What a port adds is ownership: on the embedded store one process does all
the work, so everything due is its own (``LocalDeliveryQueue``); on a shared store each worker
claims rows so that no two work on the same recipient at once
(``adapters.cluster.delivery_claims.PostgresDeliveryQueue``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from ..read_model import DueDelivery, ReadModel

Key = tuple[str, str]  # (message id, recipient address)
FAR_FUTURE: Final = "9999-12-31T23:59:59.999999+00:00"


class DeliveryQueue(Protocol):
    def claim(self, now: str, limit: int) -> list[DueDelivery]:
        """Up to ``limit`` entries due at ``now`` (a projection timestamp), oldest first,
        now this process's to attempt until released."""
        ...

    def abandoned(self) -> list[DueDelivery]:
        """Entries whose attempt a stopped process left unfinished (they are ``sending``
        under a lease that has not ended), now this process's."""
        ...

    def release(self, keys: Iterable[Key]) -> None:
        """This process is done with these entries (attempted, or given back)."""
        ...

    def upcoming(self, held: int) -> list[DueDelivery]:
        """The queue's head as this process may take it next, in due order: the first entry
        not among the ``held`` this process has fetched is when to look again."""
        ...


class LocalDeliveryQueue:
    """The single-process queue: what is due is ours; at start, so is whatever a previous
    process left ``sending`` (nobody else can be working on it), instead of waiting for
    those leases to end."""

    def __init__(self, read_model: ReadModel, *, recover_at_start: bool = True) -> None:
        self._read_model = read_model
        self._recovered = not recover_at_start

    def claim(self, now: str, limit: int) -> list[DueDelivery]:
        return self._read_model.due(now, limit)

    def abandoned(self) -> list[DueDelivery]:
        if self._recovered:
            return []
        self._recovered = True
        return self._read_model.leased()

    def release(self, keys: Iterable[Key]) -> None:
        """Nothing to give back: no other process takes from this queue."""

    def upcoming(self, held: int) -> list[DueDelivery]:
        # The head holds what this process has fetched; one row past them is the answer,
        # however long the queue.
        return self._read_model.due(FAR_FUTURE, held + 1)
