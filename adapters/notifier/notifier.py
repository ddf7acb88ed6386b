"""The notifier: sends what the outbox holds, and records every outcome in the log.

Pending rows are taken per endpoint (a topic's webhook, or the SMTP relay), each endpoint with
its own few requests in flight and a timeout on each: a slow or dead endpoint holds only its
own notifications back, never another endpoint's, and never a send (the engine only appends
to the outbox; nothing here runs on its path).

Guarantees:
- at least once: a row stays pending until ``NotificationDelivered`` is in the log, so a
  crash between the endpoint's answer and that append sends it again after a restart;
- exactly once when nothing fails: a row is in flight at most once in this process, and it
  leaves the pending set in the same commit that records its delivery; with several
  workers on one store, each row is claimed by one of them before it is sent
  (``adapters.cluster.notification_claims``);
- a failing endpoint is retried with exponential backoff and jitter (``NotificationAttemptFailed``
  says when), and after ``max_attempts`` the notification is parked (``NotificationParked``)
  until an operator retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final, Protocol

import aiohttp

from sendtrail.adapters.clock import Clock, SystemClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.outbox_projection import EMAIL_ENDPOINT
from sendtrail.adapters.stores import EventStore
from sendtrail.core import events as ev
from sendtrail.core.notifications import stream_id
from sendtrail.core.ports import ConcurrencyError
from sendtrail.core.projections import timestamp

from .backoff import retry_delay
from .outbox import OutboxReader, OutboxRow
from .relay import FeedbackMailer
from .webhook import Outcome, WebhookSender

log = logging.getLogger("sendtrail.notifier")

STOP_GRACE_SECONDS: Final = 5.0


class _Lane:
    """One endpoint: its notifications in flight, at most ``concurrency`` at once."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.active: dict[str, asyncio.Task[None]] = {}
        # Rows whose outcome could not be recorded: left alone until then (monotonic time),
        # rather than sent again at every poll while the log refuses to record it.
        self.held: dict[str, float] = {}

    def room(self) -> int:
        return self.concurrency - len(self.active)

    def busy_with(self, notification_id: str) -> bool:
        if notification_id in self.active:
            return True
        until = self.held.get(notification_id)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self.held[notification_id]
        return False


class NotificationClaims(Protocol):
    def claim(self, rows: Iterable[tuple[str, int]]) -> set[str]:
        """Of these (notification id, outbox version) pairs, the ones to send now."""
        ...

    def release(self, notification_ids: Iterable[str]) -> None: ...


class SoleSender:
    """The claims of the only process sending notifications: every row is its own."""

    def claim(self, rows: Iterable[tuple[str, int]]) -> set[str]:
        return {notification_id for notification_id, _ in rows}

    def release(self, notification_ids: Iterable[str]) -> None:
        """Nothing to give back."""


class Notifier:
    """An asyncio component (``name``, ``start``, ``stop``) for ``adapters.service``."""

    name = "notifier"

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        claims: NotificationClaims | None = None,
    ) -> None:
        self._store = store
        self._claims = claims or SoleSender()
        # Claims shared with other processes are given back through the database, off the
        # loop; the sole sender's need no giving back, and no hop to a thread per notification.
        self._shared_claims = claims is not None
        self._settings = settings.notifications
        self._topics = settings.topics
        self._from_domain = self._settings.from_domain or settings.feedback.domain
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._lanes: dict[str, _Lane] = {}
        self._reader: OutboxReader | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhooks: WebhookSender | None = None
        self._mailer = FeedbackMailer(
            self._settings.relay,
            from_domain=self._from_domain,
            timeout=self._settings.timeout_seconds,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False

    # --- the component ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._reader = OutboxReader(self._store)
        # No pool-wide limit: each lane bounds its own connections.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector)
        self._webhooks = WebhookSender(
            self._topics,
            self._session,
            timeout=self._settings.timeout_seconds,
            sns_base_url=self._settings.sns_base_url,
            clock=self._clock,
        )
        self._stopping = False
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="notifier")
        log.info("notifier started", extra={"topics": len(self._topics)})

    async def stop(self) -> None:
        """Stop taking work; let what is in flight finish (briefly), so that its outcome is
        recorded rather than sent again after the restart."""
        self._stopping = True
        self.wake()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        active = [task for lane in self._lanes.values() for task in lane.active.values()]
        if active:
            _, late = await asyncio.wait(active, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._reader is not None:
            self._reader.close()
        log.info("notifier stopped")

    def wake(self) -> None:
        """Look for due notifications now; safe to call from any thread."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
            loop.call_soon_threadsafe(wakeup.set)

    # --- dispatching --------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            self._wakeup.clear()
            try:
                self._dispatch()
            except Exception:
                log.exception("notifier could not read the outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._settings.poll_seconds)

    def _dispatch(self) -> None:
        """Start due notifications on every endpoint with room.

        The reads run on the event loop: they are short index scans, and a row leaves an
        endpoint's active set only after its outcome is committed, so what is read here
        never includes a notification that has just been sent.
        """
        assert self._reader is not None
        now = timestamp(self._clock.now())
        for endpoint in self._reader.due_endpoints(now):
            lane = self._lanes.get(endpoint)
            if lane is None:
                lane = self._lanes[endpoint] = _Lane(self._settings.concurrency_per_endpoint)
            if lane.room() <= 0:
                continue
            limit = lane.room() + len(lane.active) + len(lane.held)
            rows = [
                row
                for row in self._reader.due(endpoint, now, limit)
                if not lane.busy_with(row.notification_id)
            ][: lane.room()]
            claimed = self._claims.claim((row.notification_id, row.version) for row in rows)
            for row in rows:
                if row.notification_id in claimed:
                    task = asyncio.create_task(self._deliver(lane, row))
                    lane.active[row.notification_id] = task

    async def _deliver(self, lane: _Lane, row: OutboxRow) -> None:
        try:
            outcome = await self._attempt(row)
            await self._record(row, outcome)
        except Exception:
            log.exception("notification outcome not recorded", extra={"id": row.notification_id})
            lane.held[row.notification_id] = time.monotonic() + self._settings.retry_max_seconds
        finally:
            if self._shared_claims:
                with contextlib.suppress(Exception):  # unreleased, it lapses with this worker
                    await asyncio.to_thread(self._claims.release, [row.notification_id])
            lane.active.pop(row.notification_id, None)
            self.wake()  # room on this endpoint: look for more

    async def _attempt(self, row: OutboxRow) -> Outcome:
        assert self._webhooks is not None
        try:
            if row.endpoint == EMAIL_ENDPOINT:
                return await self._mailer.send(row)
            return await self._webhooks.send(row)
        except Exception as error:
            # Recorded like any failure, so the row backs off rather than spinning.
            log.exception("notification attempt broke", extra={"id": row.notification_id})
            return Outcome(False, f"internal error: {type(error).__name__}: {error}")

    async def _record(self, row: OutboxRow, outcome: Outcome) -> None:
        now = self._clock.now()
        attempt = row.attempts + 1
        if outcome.delivered:
            events: list[ev.Event] = [
                ev.NotificationDelivered(
                    at=now, notification_id=row.notification_id, attempt=attempt,
                    response=outcome.detail,
                )
            ]  # fmt: skip
        else:
            events = self._failure(row, outcome, attempt, now)
        try:
            await self._store.append_async(stream_id(row.notification_id), row.version, events)
        except ConcurrencyError:
            # Someone else (the retry command) changed it meanwhile; the row is read again.
            log.info("notification changed meanwhile", extra={"id": row.notification_id})
        level = logging.INFO if outcome.delivered else logging.WARNING
        log.log(
            level,
            "notification delivered" if outcome.delivered else "notification attempt failed",
            extra={
                "notification_id": row.notification_id,
                "endpoint": row.endpoint,
                "attempt": attempt,
                "detail": outcome.detail,
            },
        )

    def _failure(
        self, row: OutboxRow, outcome: Outcome, attempt: int, now: datetime
    ) -> list[ev.Event]:
        parked = outcome.permanent or attempt >= self._settings.max_attempts
        delay = retry_delay(
            attempt,
            base=self._settings.retry_base_seconds,
            cap=self._settings.retry_max_seconds,
            jitter=self._rng.random(),
        )
        failed = ev.NotificationAttemptFailed(
            at=now,
            notification_id=row.notification_id,
            attempt=attempt,
            error=outcome.detail,
            retry_at=now if parked else now + timedelta(seconds=delay),
        )
        if not parked:
            return [failed]
        parked_event = ev.NotificationParked(
            at=now, notification_id=row.notification_id, attempts=attempt, error=outcome.detail
        )
        return [failed, parked_event]
