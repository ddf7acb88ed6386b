"""What every API handler works with: the ``App``, and the way to run management calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sendtrail.adapters.app import App

T = TypeVar("T")


class ApiContext:
    def __init__(self, app: App) -> None:
        self.app = app
        self._management = asyncio.Lock()

    @property
    def region(self) -> str:
        return self.app.settings.region

    async def manage(self, operation: Callable[[], T]) -> T:
        """Run a management call (identities, templates, configuration sets, account,
        suppression list) off the event loop, one at a time.

        These calls append durably and some generate keys, so they would stall the sends
        sharing the loop; run one at a time, a read-check-write such as "create unless it
        exists" cannot interleave with another. SES throttles them to 1/s anyway.
        """
        async with self._management:
            return await asyncio.to_thread(operation)
