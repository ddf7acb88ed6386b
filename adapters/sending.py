"""The send operations every surface calls: validate, record, answer.

Acceptance stays cheap, as SES keeps it: the request is judged by the pure rules in
``core.acceptance``, admitted by the sending quotas, and recorded (``requested`` then
``accepted``, with the request's content stored by address) in one durable append; the
message id is the answer. Assembly, signing and scanning follow after the answer (see
``preparation``). A refused request is recorded too (``requested`` then ``rejected``) before
the SES error is raised, so audits and statistics see it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core import ids
from sendtrail.core import resources as res
from sendtrail.core.acceptance import quotas
from sendtrail.core.acceptance.errors import SesError
from sendtrail.core.acceptance.identities import VerifiedIdentities
from sendtrail.core.acceptance.requests import SendRequest, encode_stored
from sendtrail.core.acceptance.send import AcceptedSend, SendContext, check_send

from .clock import new_uuid
from .config import Settings
from .engine import Engine
from .resources import ResourceRegistry
from .statistics_projection import bucket_of

log = logging.getLogger("sendtrail.sending")

DAY = timedelta(hours=24)


class Sender:
    def __init__(
        self,
        engine: Engine,
        registry: ResourceRegistry,
        settings: Settings,
        *,
        on_accepted: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.settings = settings
        self.on_accepted = on_accepted
        self._lock = threading.Lock()
        self._bucket: quotas.RateBucket | None = None
        self._sent_by_bucket = self._load_sent()
        self._sent_total = sum(self._sent_by_bucket.values())
        self._context: tuple[int, SendContext] | None = None
        # Of the account's sending rate, the part this process may use: several API
        # processes on one store split it (``share_quota``).
        self._rate_share = 1.0

    # --- quotas -------------------------------------------------------------------------

    @property
    def quota(self) -> quotas.SendQuota:
        account = self.settings.account
        if account.sandbox:
            return quotas.SANDBOX_QUOTA
        return quotas.SendQuota(
            max_send_rate=account.max_send_rate, max_24_hour_send=account.max_24_hour_send
        )

    def sent_last_24_hours(self, now: datetime) -> int:
        with self._lock:
            return self._sent_unlocked(now)

    def share_quota(self, accepting_processes: int) -> None:
        """Hold the quotas together with the other processes accepting mail on this store:
        the rate is split evenly among them, and the 24-hour count is read again from the
        log's statistics, where everyone's sends are (called at every heartbeat)."""
        sent = self._load_sent()
        with self._lock:
            self._rate_share = 1.0 / max(1, accepting_processes)
            self._sent_by_bucket = sent
            self._sent_total = sum(sent.values())

    def _load_sent(self) -> dict[str, int]:
        rows = self.engine.read_model.sent_by_bucket(bucket_of(self.engine.clock.now() - DAY))
        return dict(rows)

    def _admit(self, accepted: AcceptedSend, now: datetime) -> int:
        with self._lock:
            quota = self.quota
            if self._rate_share < 1.0:
                quota = msgspec.structs.replace(
                    quota, max_send_rate=quota.max_send_rate * self._rate_share
                )
            grant = quotas.admit_send(
                quota,
                self._bucket,
                now=now.timestamp(),
                recipients=len(accepted.recipients),
                simulator_recipients=accepted.simulator_recipients,
                sent_last_24_hours=self._sent_unlocked(now),
            )
            self._bucket = grant.bucket
            bucket = bucket_of(now)
            counted = grant.counted_toward_daily
            self._sent_by_bucket[bucket] = self._sent_by_bucket.get(bucket, 0) + counted
            self._sent_total += counted
            return counted

    def _sent_unlocked(self, now: datetime) -> int:
        """The rolling 24 hours' count: buckets come in time order, the stale ones first."""
        since = bucket_of(now - DAY)
        while self._sent_by_bucket:
            oldest = next(iter(self._sent_by_bucket))
            if oldest > since:
                break
            self._sent_total -= self._sent_by_bucket.pop(oldest)
        return self._sent_total

    # --- sending ------------------------------------------------------------------------

    def context(self, now: datetime) -> SendContext:
        """The resources a send is judged against, rebuilt only when one has changed."""
        generation = self.registry.generation
        if self._context is None or self._context[0] != generation:
            self._context = (generation, self._build_context(now))
        return self._context[1]

    def _build_context(self, now: datetime) -> SendContext:
        identities = [i.name for i in self.registry.all(res.Identity) if i.verified]
        return SendContext(
            region=self.settings.region,
            verified=VerifiedIdentities.of([*identities, *self.settings.identities.verified]),
            sandbox=self.settings.account.sandbox,
            simulator_domains=tuple(self.settings.simulator.domains),
            account_sending_enabled=self.registry.account(now).sending_enabled,
            configuration_sets=self.registry.by_name(res.ConfigurationSet),
            templates=self.registry.by_name(res.Template),
        )

    async def send(self, request: SendRequest) -> str:
        """Accept the request and return its message id, or raise SES's error."""
        now = self.engine.clock.now()
        message_id = ids.message_id(self.settings.region, now, new_uuid())
        try:
            accepted = check_send(request, self.context(now))
            counted = self._admit(accepted, now)
        except SesError as error:
            await self._record_rejection(message_id, request, error)
            raise
        content = encode_stored(request)
        configuration_set = accepted.configuration_set
        window = (configuration_set.max_delivery_seconds if configuration_set else None) or (
            self.settings.delivery.max_delivery_seconds
        )
        command = cmd.RequestSend(
            message_id=message_id,
            source=accepted.source,
            destinations=accepted.recipients,
            operation=request.operation,
            content_sha256=hashlib.sha256(content).hexdigest(),
            configuration_set=configuration_set.name if configuration_set else None,
            tags=tuple(ev.Tag(name, value) for name, value in accepted.tags),
            feedback_address=accepted.feedback_address,
            caller=request.caller,
            source_ip=request.source_ip,
            max_delivery_seconds=window,
            quota_recipients=counted,
        )
        await self.engine.execute_async(command, contents=(content,))
        if self.on_accepted is not None:
            self.on_accepted()
        return message_id

    async def _record_rejection(
        self, message_id: str, request: SendRequest, error: SesError
    ) -> None:
        listed = request.destination.all if request.destination else request.destinations or ()
        await self.engine.execute_async(
            cmd.RequestSend(
                message_id=message_id,
                source=request.source or "",
                destinations=tuple(listed),
                operation=request.operation,
                configuration_set=request.configuration_set,
                caller=request.caller,
                source_ip=request.source_ip,
                rejection=cmd.Rejection(error.code, error.message),
            )
        )
        log.info(
            "send rejected",
            extra={"message_id": message_id, "code": error.code, "reason": error.message},
        )
