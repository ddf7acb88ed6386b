"""The delivery loop: due recipients in, SMTP attempts out, outcomes back to the engine.

The delivery queue lives in the projection (``engine.read_model.due``); the scheduler holds
only what it has fetched and not finished, so its memory follows what is due, never what is
queued. Each fetch is grouped per message and recipient domain: one group is one SMTP
transaction. A message not yet prepared (rendered, assembled, signed, scanned) goes through
the ``prepare`` hook first, once. Before connecting, the scheduler records ``StartAttempt``
with a lease; the recipients then leave the due set until the outcome is recorded or the
lease ends. A process that dies mid-attempt therefore loses nothing: its recipients come back
when their leases end, or sooner through the queue port (``delivery.queue``): at once when the
next process starts on the embedded store, when the others see its heartbeat stop on a
shared one.

Wake-ups: ``notify()`` (new work was accepted), a finished attempt (a slot is free), the next
due time (a retry, a lease), or at the latest ``max_sleep`` seconds, which also picks up work
that another process accepted without telling us.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sendtrail.core import commands as cmd
from sendtrail.core import projections as proj
from sendtrail.core.delivery import outcomes, retry
from sendtrail.core.lifecycle import IllegalTransition, State
from sendtrail.core.state import AWAITING_DELIVERY, MessageState, RecipientState

from ..clock import new_uuid
from ..config import DeliverySettings, Settings
from ..read_model import DueDelivery
from ..stores import read_store
from .content import ContentCache
from .groups import Group, group_rows
from .pool import ConnectionPool
from .queue import DeliveryQueue, Key, LocalDeliveryQueue
from .reports import Reporter, SuppressionPolicyOf
from .resolver import DnsResolver
from .smtp import Envelope, RecipientResult, SmtpDeliverer
from .smtp_client import Timeouts
from .throttle import DomainAdmission, DomainLimits

if TYPE_CHECKING:
    from ..engine import Engine

logger = logging.getLogger("sendtrail.delivery")

# Time to load the content and record the outcomes after the attempt itself has timed out.
LEASE_MARGIN_SECONDS: Final = 120.0
# Fetching the queue costs a query; at most one per this many seconds, however busy.
MIN_FETCH_INTERVAL: Final = 0.01
# A message whose preparation failed (a bug, a scanner down) is left alone this long.
PREPARE_RETRY_SECONDS: Final = 60.0
# Another worker preparing the same message at the same time: read it again, this often.
PREPARE_RACE_RETRIES: Final = 3

# Renders, assembles, signs and scans a message once, before its first attempt
# (``adapters.preparation.Preparer.prepare``); returns the message's state afterwards.
PrepareHook = Callable[[str], Awaitable[MessageState | None]]


class SchedulerStats:
    """Counters for tests, the benchmark and metrics."""

    __slots__ = ("attempts", "delivered", "expired", "fetched", "hard", "soft")

    def __init__(self) -> None:
        self.fetched = 0  # queue rows read
        self.attempts = 0  # transactions started (StartAttempt recorded)
        self.delivered = 0
        self.soft = 0
        self.hard = 0
        self.expired = 0


def _never_required(_: MessageState) -> bool:
    return False


class DeliveryScheduler:
    """Delivery for one engine: ``await start()``, ``notify()`` on new work, ``await stop()``.

    It is a service component as ``adapters/service.py`` defines one (name, start, stop).
    """

    name = "delivery"

    def __init__(
        self,
        engine: Engine,
        deliverer: SmtpDeliverer,
        *,
        feedback_domain: str,
        ehlo_name: str,
        max_in_flight: int = 100,
        max_in_flight_per_domain: int = 20,
        domain_rate_limit: float = 0.0,
        lease_seconds: float = 900.0 + LEASE_MARGIN_SECONDS,
        recover_at_start: bool = True,
        tls_required: Callable[[MessageState], bool] = _never_required,
        prepare: PrepareHook | None = None,
        fetch_limit: int | None = None,
        max_sleep: float = 1.0,
        suppression: SuppressionPolicyOf | None = None,
        on_delivered: Callable[[float], None] | None = None,
        queue: DeliveryQueue | None = None,
        domain_limits: DomainAdmission | None = None,
        shared_store: bool = False,
    ) -> None:
        if max_in_flight < 1 or max_in_flight_per_domain < 1:
            raise ValueError("in-flight limits must be at least 1")
        self._engine = engine
        self._clock = engine.clock
        self._deliverer = deliverer
        self._feedback_domain = feedback_domain
        self._max_in_flight = max_in_flight
        self._domains = domain_limits or DomainLimits(max_in_flight_per_domain, domain_rate_limit)
        self._lease_seconds = lease_seconds
        self._queue = queue or LocalDeliveryQueue(
            engine.read_model, recover_at_start=recover_at_start
        )
        # Other processes change messages too: read each one afresh before an attempt.
        self._shared_store = shared_store
        self._tls_required = tls_required
        self._prepare = prepare
        self._fetch_limit = fetch_limit or max(500, 4 * max_in_flight)
        self._max_sleep = max_sleep
        self._reporter = Reporter(
            ehlo_name=ehlo_name,
            region=engine.region,
            new_uuid=new_uuid,
            jitter=random.random,
            suppression=suppression,
            on_delivered=on_delivered,
        )
        self._contents = ContentCache(engine.store.get_content)
        self.stats = SchedulerStats()

        # Fetched, not yet started: per domain, each in time order; domains in the order
        # their first group came. A domain at its limit is skipped in one step, not per group.
        self._ready: dict[str, deque[Group]] = {}
        self._ready_count = 0
        self._claimed: set[Key] = set()  # fetched or in flight
        self._done: list[Key] = []  # finished since the last fetch: the queue gets them back
        self._cooling: dict[tuple[str, str], float] = {}  # left alone until (monotonic time)
        self._preparing: dict[str, asyncio.Task[MessageState | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._drained = False  # the last fetch saw everything due at its time
        self._next_due: datetime | None = None  # when the earliest unclaimed entry falls due
        self._last_fetch = 0.0
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        # Queue queries run off the event loop, on one thread with its own connection.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sendtrail-delivery-queue")

    @classmethod
    def from_settings(
        cls,
        engine: Engine,
        settings: Settings,
        *,
        tls_required: Callable[[MessageState], bool] = _never_required,
        prepare: PrepareHook | None = None,
        recover_at_start: bool = True,
        max_sleep: float = 1.0,
        suppression: SuppressionPolicyOf | None = None,
        on_delivered: Callable[[float], None] | None = None,
        queue: DeliveryQueue | None = None,
        domain_limits: DomainAdmission | None = None,
        shared_store: bool = False,
    ) -> DeliveryScheduler:
        """The scheduler as ``[delivery]``, ``[dns]`` and ``[feedback]`` configure it.

        ``tls_required`` tells whether a message's configuration set requires TLS;
        ``prepare`` makes a message ready before its first attempt (without it, the content
        stored with the request is sent as it is); ``recover_at_start`` retries at once what
        was left ``sending`` (single process only); ``max_sleep`` bounds how long the loop
        sleeps without a ``notify()``; ``queue``, ``domain_limits`` and ``shared_store`` are
        for a worker among several (``adapters.cluster``).
        """
        delivery = settings.delivery
        check_settings(delivery)
        resolver = DnsResolver(
            settings.dns.nameservers,
            timeout=delivery.dns_timeout,
            routes=delivery.routes,
            smtp_port=delivery.smtp_port,
        )
        pool = ConnectionPool(
            max_per_host=delivery.max_connections_per_host,
            max_messages_per_connection=delivery.max_messages_per_connection,
            idle_seconds=delivery.idle_connection_seconds,
        )
        deliverer = SmtpDeliverer(
            resolver,
            pool,
            ehlo_name=delivery.ehlo_name,
            timeouts=Timeouts(
                delivery.connect_timeout, delivery.command_timeout, delivery.data_timeout
            ),
            attempt_timeout=delivery.attempt_timeout,
            tls_ca_file=delivery.tls_ca_file,
        )
        return cls(
            engine,
            deliverer,
            feedback_domain=settings.feedback.domain,
            ehlo_name=delivery.ehlo_name,
            max_in_flight=delivery.max_in_flight,
            max_in_flight_per_domain=delivery.max_in_flight_per_domain,
            domain_rate_limit=delivery.domain_rate_limit,
            lease_seconds=lease_seconds(delivery),
            recover_at_start=recover_at_start,
            tls_required=tls_required,
            prepare=prepare,
            max_sleep=max_sleep,
            suppression=suppression,
            on_delivered=on_delivered,
            queue=queue,
            domain_limits=domain_limits,
            shared_store=shared_store,
        )

    # --- the public face ------------------------------------------------------------------

    async def start(self) -> None:
        """Start the loop on the running event loop (idempotent)."""
        if self._runner is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._runner = self._loop.create_task(self._run(), name="sendtrail-delivery")
        self._runner.add_done_callback(_report_crash)

    def notify(self) -> None:
        """New work was accepted: look at the queue now. Safe from any thread."""
        loop = self._loop
        if loop is None or self._stopping:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_notify()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self._on_notify)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching, let in-flight attempts finish for ``timeout`` s, abandon the rest.

        An abandoned attempt loses nothing: its ``StartAttempt`` is in the log with a lease,
        so its recipients are tried again when the lease ends (or at the next start).
        """
        if self._runner is None:
            return
        self._stopping = True
        assert self._wake is not None
        self._wake.set()
        await asyncio.gather(self._runner, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Fetched and never started: given back now. Attempts cut short keep their claims,
        # so that another worker finishes them as soon as this one is seen gone.
        unstarted: list[Key] = []
        for groups in self._ready.values():
            for group in groups:
                unstarted.extend(group.keys())
        self._ready.clear()
        self._ready_count = 0
        self._claimed.clear()
        await self._deliverer.close()
        try:
            self._queue.release([*self._done, *unstarted])
        except Exception:
            logger.exception("could not give back the unstarted deliveries; others take them later")
        self._done.clear()
        self._executor.shutdown(wait=True)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()
            now = self._clock.now()
            if self._next_due is not None and now >= self._next_due:
                self._drained = False
            if self._fetch_delay() == 0.0:
                try:
                    await self._fetch(now)
                except Exception:
                    logger.exception("reading the delivery queue failed; trying again in 1 s")
                    self._last_fetch = time.monotonic() + 1.0  # spaces the next try
                if self._stopping:
                    break
            elif self._shared_store and self._done:
                await self._release_done()
            timeout = self._sleep_seconds(now, self._dispatch())
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                if timeout >= self._max_sleep:
                    self._drained = False  # look anyway: other processes may have added work

    async def _release_done(self) -> None:
        """Give finished entries back without waiting for the next fetch: on a shared store
        they are claims the other workers see (and ``/metrics`` counts)."""
        assert self._loop is not None
        done, self._done = self._done, []
        try:
            await self._loop.run_in_executor(self._executor, self._queue.release, done)
        except Exception:
            logger.exception("could not give finished deliveries back; trying at the next fetch")
            self._done.extend(done)

    def _fetch_delay(self) -> float | None:
        """None: no fetch wanted; 0: fetch now; otherwise wait that long first.

        A fetch is wanted while more may be due than was seen (not drained) and the ready
        groups run low; fetches are spaced so that a busy loop does not query per attempt.
        """
        if self._drained or self._ready_count >= self._fetch_limit // 2:
            return None
        elapsed = time.monotonic() - self._last_fetch
        return 0.0 if elapsed >= MIN_FETCH_INTERVAL else MIN_FETCH_INTERVAL - elapsed

    def _sleep_seconds(self, now: datetime, rate_wait: float | None) -> float:
        """How long to wait for a wake-up (notify, a finished attempt) before looking again."""
        candidates = [self._max_sleep]
        fetch_in = self._fetch_delay()
        if fetch_in is not None:
            candidates.append(fetch_in)
        if rate_wait is not None:
            candidates.append(rate_wait)
        if self._drained and self._next_due is not None:
            candidates.append((self._next_due - now).total_seconds())
        return max(0.0, min(candidates))

    async def _fetch(self, now: datetime) -> None:
        assert self._loop is not None
        self._last_fetch = time.monotonic()
        done, self._done = self._done, []
        abandoned, due, upcoming = await self._loop.run_in_executor(
            self._executor, self._query, proj.timestamp(now), len(self._claimed), done
        )
        if abandoned:
            logger.info("retrying %d recipients whose attempt was left unfinished", len(abandoned))
        self.stats.fetched += len(due)
        taken = self._taken_test()
        fresh = [row for row in [*abandoned, *due] if not taken((row.message_id, row.address))]
        # Cooling entries came back through the claim: let the others have them meanwhile.
        self._done.extend(
            (row.message_id, row.address)
            for row in due
            if (row.message_id, row.address) in self._cooling
            and (row.message_id, row.address) not in self._claimed
        )
        self._add(group_rows(fresh))
        self._drained = len(due) < self._fetch_limit
        self._next_due = None
        for row in upcoming:
            if not taken((row.message_id, row.address)):
                self._next_due = datetime.fromisoformat(row.due_at)
                break

    def _taken_test(self) -> Callable[[tuple[str, str]], bool]:
        """Whether a queue entry is ours already (fetched, in flight) or left alone a while."""
        claimed = self._claimed
        if not self._cooling:
            return claimed.__contains__
        now = time.monotonic()
        self._cooling = {key: until for key, until in self._cooling.items() if until > now}
        cooling = self._cooling
        return lambda key: key in claimed or key in cooling

    def _query(
        self, now_text: str, claimed: int, done: list[Key]
    ) -> tuple[list[DueDelivery], list[DueDelivery], list[DueDelivery]]:
        """(abandoned attempts now ours, due entries now ours, what falls due next)."""
        self._queue.release(done)
        abandoned = self._queue.abandoned()
        due = self._queue.claim(now_text, self._fetch_limit)
        if len(due) == self._fetch_limit:
            return abandoned, due, []
        # Everything due was seen: find when the next entry (a retry, a lease) falls due.
        return abandoned, due, self._queue.upcoming(claimed + len(due))

    def _add(self, groups: list[Group]) -> None:
        for group in groups:
            self._claimed.update(group.keys())
            queue = self._ready.get(group.domain)
            if queue is None:
                queue = self._ready[group.domain] = deque()
            queue.append(group)
        self._ready_count += len(groups)

    def _dispatch(self) -> float | None:
        """Start every ready group that a slot, its domain's limit and rate allow.

        Returns the seconds until a rate-limited group may go, if one is waiting for that.
        """
        free = self._max_in_flight - len(self._tasks)
        rate_wait: float | None = None
        now = time.monotonic()
        for domain in list(self._ready):
            if free <= 0:
                break
            queue = self._ready[domain]
            while queue and free > 0:
                wait = self._domains.admit(domain, now)
                if wait is not None:
                    if wait > 0:
                        rate_wait = wait if rate_wait is None else min(rate_wait, wait)
                    break
                self._start(queue.popleft())
                self._ready_count -= 1
                free -= 1
            if not queue:
                del self._ready[domain]
        return rate_wait

    def _start(self, group: Group) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._deliver(group))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._finished, group))

    def _finished(self, group: Group, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._domains.finished(group.domain)
        self._claimed.difference_update(group.keys())
        if not task.cancelled():  # an attempt cut short stays claimed (see ``stop``)
            self._done.extend(group.keys())
        if self._wake is not None:
            self._wake.set()

    def _on_notify(self) -> None:
        self._drained = False
        if self._wake is not None:
            self._wake.set()

    # --- one attempt ----------------------------------------------------------------------

    async def _deliver(self, group: Group) -> None:
        try:
            await self._attempt(group)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease brings the recipients back; a bug must not stop the loop.
            logger.exception("attempt for message %s to %s failed", group.message_id, group.domain)

    async def _attempt(self, group: Group) -> None:
        try:
            state = await self._ready_state(group.message_id)
        except Exception:
            logger.exception(
                "preparing message %s failed; trying again in %d s",
                group.message_id,
                PREPARE_RETRY_SECONDS,
            )
            until = time.monotonic() + PREPARE_RETRY_SECONDS
            self._cooling.update(dict.fromkeys(group.keys(), until))
            return
        if state is None:
            return
        now = self._clock.now()
        addresses: list[str] = []
        for address in group.recipients:
            recipient = state.recipients.get(address)
            if recipient is None or recipient.status not in AWAITING_DELIVERY:
                continue  # settled since the queue was read
            if _missed_deadline(recipient, now):
                expiry = self._reporter.expiry(state, recipient, now)
                if expiry is not None and await self._execute(expiry):
                    self.stats.expired += 1
                continue
            addresses.append(address)
        if not addresses:
            return
        start = cmd.StartAttempt(
            message_id=state.message_id,
            recipients=tuple(addresses),
            lease_seconds=self._lease_seconds,
        )
        if not await self._execute(start):
            return
        self.stats.attempts += 1
        results = await self._send(group.domain, state, tuple(addresses))
        now = self._clock.now()
        for result in results:
            await self._report(state, result, now)

    async def _ready_state(self, message_id: str) -> MessageState | None:
        """The message's state, prepared first if it needs to be (once, however many of its
        domain groups ask at the same time)."""
        if self._shared_store and message_id not in self._preparing:
            self._engine.forget(message_id)
        state = await read_store(self._shared_store, self._engine.state, message_id)
        if state is None or self._prepare is None or state.outgoing_sha256 is not None:
            return state
        if not any(r.status in AWAITING_DELIVERY for r in state.recipients.values()):
            return state
        task = self._preparing.get(message_id)
        if task is None:
            assert self._loop is not None
            task = self._loop.create_task(self._prepared(message_id))
            self._preparing[message_id] = task
            task.add_done_callback(lambda _: self._preparing.pop(message_id, None))
        return await asyncio.shield(task)

    async def _prepared(self, message_id: str) -> MessageState | None:
        """``prepare``, once more on a fresh state if another worker moved the message on
        meanwhile (it prepared the message, or suppressed a recipient, for its own recipients
        of the same message): what it did is not done again."""
        assert self._prepare is not None
        for _ in range(PREPARE_RACE_RETRIES):
            try:
                return await self._prepare(message_id)
            except IllegalTransition:
                if not self._shared_store:
                    raise
                self._engine.forget(message_id)
        return await self._prepare(message_id)

    async def _send(
        self, domain: str, state: MessageState, addresses: tuple[str, ...]
    ) -> list[RecipientResult]:
        sha256 = self._content_address(state)
        content = None
        if sha256 is not None:
            content = self._contents.acquire_cached(sha256)
            if content is None:
                raw = await read_store(self._shared_store, self._engine.store.get_content, sha256)
                content = None if raw is None else self._contents.acquire_loaded(sha256, raw)
        if sha256 is None or content is None:
            missing = outcomes.internal_failure("the message content is not in the store")
            return [RecipientResult(recipient, missing, None) for recipient in addresses]
        try:
            envelope = Envelope(
                sender=f"{state.message_id}@{self._feedback_domain}",
                recipients=addresses,
                content=content,
                tls_required=self._tls_required(state),
            )
            return await self._deliverer.deliver(domain, envelope)
        finally:
            self._contents.release(sha256)

    async def _report(self, state: MessageState, result: RecipientResult, now: datetime) -> None:
        commands = self._reporter.commands(
            state, result.recipient, result.outcome, result.remote_ip, now
        )
        for command in commands:
            if not await self._execute(command):
                return
            if isinstance(command, cmd.ReportDelivered):
                self.stats.delivered += 1
            elif isinstance(command, cmd.ReportHardFailure):
                self.stats.hard += 1
            elif isinstance(command, cmd.ReportSoftFailure):
                self.stats.soft += 1
            elif isinstance(command, cmd.ExpireDelivery):
                self.stats.expired += 1

    def _content_address(self, state: MessageState) -> str | None:
        """The bytes to send: the assembled, signed MIME (``MessagePrepared``). Without a
        ``prepare`` hook, the content stored with the request, as it is (raw MIME)."""
        if self._prepare is not None:
            return state.outgoing_sha256
        return state.outgoing_sha256 or state.content_sha256

    async def _execute(self, command: cmd.Command) -> bool:
        """Record ``command``; False when the recipient has moved on (another worker, say)."""
        try:
            await self._engine.execute_async(command)
        except IllegalTransition as error:
            name = type(command).__name__
            logger.info("%s for %s not recorded: %s", name, command.message_id, error)
            return False
        return True


def _report_crash(runner: asyncio.Task[None]) -> None:
    if not runner.cancelled() and runner.exception() is not None:
        logger.error("the delivery loop stopped", exc_info=runner.exception())


def _missed_deadline(recipient: RecipientState, now: datetime) -> bool:
    """A soft-bounced recipient whose window closed before its next retry could be made.

    The last retry is scheduled at the deadline itself (``retry.next_attempt_at``) and is
    still made; a retry due before the deadline that only comes up after it (the process was
    down) is not: the window is over, SES would have bounced it.
    """
    if recipient.status is not State.SOFT_BOUNCED or recipient.expires_at is None:
        return False
    if not retry.is_expired(recipient.expires_at, now):
        return False
    return recipient.due_at is None or recipient.due_at < recipient.expires_at


def lease_seconds(delivery: DeliverySettings) -> float:
    """How long a started attempt keeps its recipients: the attempt's own timeout, and time
    to load the content and record the outcomes after it."""
    return delivery.attempt_timeout + LEASE_MARGIN_SECONDS


def check_settings(delivery: DeliverySettings) -> None:
    """Reject values the scheduler cannot run with (config.py checks the file's syntax)."""
    positive = {
        "max_in_flight": delivery.max_in_flight,
        "max_in_flight_per_domain": delivery.max_in_flight_per_domain,
        "max_connections_per_host": delivery.max_connections_per_host,
        "max_messages_per_connection": delivery.max_messages_per_connection,
        "connect_timeout": delivery.connect_timeout,
        "command_timeout": delivery.command_timeout,
        "data_timeout": delivery.data_timeout,
        "dns_timeout": delivery.dns_timeout,
        "attempt_timeout": delivery.attempt_timeout,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ValueError(f"delivery.{key} must be positive, not {value}")
    if delivery.domain_rate_limit < 0 or delivery.idle_connection_seconds < 0:
        raise ValueError("delivery.domain_rate_limit and idle_connection_seconds must be >= 0")
