"""``sendtrail serve``: one process running the engine and the surfaces its role asks for.

The runtime owns the engine and a list of components (the HTTP API, SMTP servers, delivery
workers, the notifier). Each component starts in order and stops in reverse order, so that
on SIGTERM/SIGINT the surfaces stop accepting first and the engine closes last, after
everything in flight has been written.

Roles: ``api`` accepts mail (HTTP API, SMTP submission, feedback receiver); ``worker``
delivers it and sends notifications (with the mailbox simulator's receiving server, which
delivery routes to); ``all`` does both. On a PostgreSQL store any number of processes of each
role share the work (``adapters/cluster``); on the embedded SQLite store, one ``all``
process, or one ``api`` and one ``worker``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

import msgspec
import uvloop

from sendtrail.core import resources as res
from sendtrail.core.assembly.scan import ContentScanner
from sendtrail.core.state import MessageState

from .app import App
from .clock import Clock
from .cluster.component import Cluster
from .cluster.domain_limits import SharedDomainLimits
from .cluster.metrics import ClusterCollector
from .config import ROLES, Settings
from .delivery import DeliveryScheduler
from .delivery.sole_worker import AnotherWorkerRuns, SoleWorkerLock
from .feedback_receiver import FeedbackReceiver
from .http_server import HttpServer
from .identity_verifier import IdentityVerifier
from .logs import configure_logging
from .metrics import Metrics
from .notifier import Notifier
from .postgres_store import PostgresEventStore
from .preparation import Preparer
from .scanners import ClamdScanner, EicarScanner
from .simulator_server import SimulatorServer
from .smtp_submission import SmtpSubmission

log = logging.getLogger("sendtrail.service")


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Service:
    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        banner: TextIO | None = None,
        role: str = "all",
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        self.settings = settings
        self.data_dir = data_dir
        self.role = role
        self.app = App(settings, data_dir, clock=clock)
        self.engine = self.app.engine
        store = self.engine.store
        self.cluster = (
            Cluster(store, settings, role) if isinstance(store, PostgresEventStore) else None
        )
        self.simulator = SimulatorServer(settings.simulator.domains, settings.feedback.listen)
        self.feedback = FeedbackReceiver(self.app)
        self.smtp = SmtpSubmission(self.app, settings.smtp, data_dir=data_dir)
        self.notifier = Notifier(
            store,
            settings,
            clock=self.app.clock,
            claims=self.cluster.notification_claims() if self.cluster else None,
        )
        self.metrics = Metrics(self.engine)
        self.delivery = Delivery(
            self.app,
            data_dir,
            self.simulator,
            scanner_for(settings),
            self.metrics.delivery_latency.observe,
            cluster=self.cluster,
        )
        self.identities = IdentityVerifier(self.app, interval=settings.identities.check_seconds)
        self.app.outbox().add_listener(self.notifier.wake)
        if self.cluster is not None:
            self._connect_wakeups(self.cluster)
            self.metrics.watch(ClusterCollector(self.cluster.registry))
        self.http = HttpServer(self)
        worker_listen = settings.workers.http_listen
        self.worker_http = (
            HttpServer(self, listen=worker_listen, api=False) if worker_listen else None
        )
        self.components = self._components_for(role)
        self.ready = asyncio.Event()
        self.banner = banner

    def _components_for(self, role: str) -> list[Component]:
        """Started in this order and stopped in reverse: the surfaces that accept mail stop
        first, the engine's own workers after them, the cluster membership and the log last."""
        works, accepts = role in ("all", "worker"), role in ("all", "api")
        listed: list[tuple[Component, bool]] = [
            (self.notifier, works),
            (self.identities, works),
            (self.simulator, works),
            (self.feedback, accepts),
            (self.delivery, works),
            (self.smtp, accepts),
            (self.http, accepts),
        ]
        if self.worker_http is not None:
            listed.append((self.worker_http, role == "worker"))
        components = [component for component, wanted in listed if wanted]
        return ([self.cluster] if self.cluster is not None else []) + components

    def _connect_wakeups(self, cluster: Cluster) -> None:
        """Accepted mail, new notifications and changed resources reach every process."""
        wakeups = cluster.wakeups
        self.app.on_accepted(lambda: wakeups.publish("delivery"))
        self.app.outbox().add_listener(lambda: wakeups.publish("notifications"))
        wakeups.subscribe("delivery", self.delivery.notify)
        wakeups.subscribe("notifications", self.notifier.wake)
        # Resources are held in memory by each process: changes elsewhere are loaded when
        # announced, and at every heartbeat in case an announcement was lost.
        resources = self.app.registry
        resources.on_change(lambda: wakeups.publish("resources"))
        wakeups.subscribe("resources", resources.refresh)
        cluster.registry.on_beat(resources.refresh)
        if self.role in ("all", "api"):
            sender, members = self.app.sender, cluster.registry
            members.on_beat(lambda: sender.share_quota(members.live_count(("all", "api"))))

    async def run(self, stop: asyncio.Event) -> None:
        started: list[Component] = []
        try:
            for component in self.components:
                await component.start()
                started.append(component)
            self.ready.set()
            log.info("ready", extra={"data_dir": str(self.data_dir)})
            if self.banner is not None:
                self.banner.write(welcome(self))
                self.banner.flush()
            await stop.wait()
            log.info("stopping")
        finally:
            self.ready.clear()
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("component failed to stop", extra={"component": component.name})
            self.app.close()
            log.info("stopped")


class Delivery:
    """The delivery scheduler, made at start: mail to the simulator's domains is routed to
    the simulator's receiving server, whose port is known only once it listens."""

    name = "delivery"

    def __init__(
        self,
        app: App,
        data_dir: Path,
        simulator: SimulatorServer,
        scanner: ContentScanner,
        on_delivered: Callable[[float], None] | None = None,
        *,
        cluster: Cluster | None = None,
    ) -> None:
        self.app = app
        self.data_dir = data_dir
        self.cluster = cluster
        self.on_delivered = on_delivered
        self.simulator = simulator
        self.preparer = Preparer(app, scanner)
        self.scheduler: DeliveryScheduler | None = None
        self.domain_limits: SharedDomainLimits | None = None
        self.sole_worker: SoleWorkerLock | None = None

    async def start(self) -> None:
        settings = self.app.settings
        routes = dict.fromkeys(settings.simulator.domains, self.simulator.address)
        routes.update(settings.delivery.routes)
        routed = msgspec.structs.replace(
            settings, delivery=msgspec.structs.replace(settings.delivery, routes=routes)
        )
        cluster = self.cluster
        if cluster is not None:
            self.domain_limits = cluster.domain_limits()
            self.domain_limits.start()
        else:
            self.sole_worker = SoleWorkerLock(self.data_dir)
            self.sole_worker.acquire()
        self.scheduler = DeliveryScheduler.from_settings(
            self.app.engine,
            routed,
            prepare=self.preparer.prepare,
            tls_required=self._tls_required,
            suppression=self.app.suppression_policy,
            on_delivered=self.on_delivered,
            queue=cluster.delivery_queue() if cluster else None,
            domain_limits=self.domain_limits if cluster else None,
            shared_store=cluster is not None,
            max_sleep=cluster.max_sleep if cluster else 1.0,
        )
        self.app.on_accepted(self.scheduler.notify)
        if self.domain_limits is not None:
            self.domain_limits.on_grant(self.scheduler.notify)
        await self.scheduler.start()

    def notify(self) -> None:
        """New work may be due (safe from any thread, before start and after stop)."""
        if self.scheduler is not None:
            self.scheduler.notify()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.domain_limits is not None:
            self.domain_limits.stop()
        if self.sole_worker is not None:
            self.sole_worker.release()

    def _tls_required(self, state: MessageState) -> bool:
        if state.configuration_set is None:
            return False
        configuration_set = self.app.registry.get(res.ConfigurationSet, state.configuration_set)
        return configuration_set is not None and configuration_set.tls_policy == "REQUIRE"


def scanner_for(settings: Settings) -> ContentScanner:
    """ClamAV when ``[scan] clamd`` names one; the built-in EICAR scanner otherwise."""
    if settings.scan.clamd:
        return ClamdScanner.from_address(settings.scan.clamd)
    return EicarScanner()


def welcome(service: Service) -> str:
    """What a person starting the service needs: where to send, and with which keys.

    Printed on standard output for the person at the terminal; logs (standard error) never
    carry secrets.
    """
    settings = service.settings
    member = f" as {service.cluster.registry.worker_id}" if service.cluster else ""
    if service.role == "worker":
        worker_http = service.worker_http
        served = f"; health and metrics on http://{worker_http.listen}" if worker_http else ""
        return f"sendtrail worker is ready{member}: delivery and notifications{served}.\n"
    host = settings.http.listen.rpartition(":")[0]
    lines = [
        f"sendtrail is ready{member}{'' if service.role == 'all' else f' ({service.role})'}.",
        f"  SES API (v1 and v2): http://{host}:{service.http.port}",
        f"  SMTP submission:     {settings.smtp.listen} (STARTTLS, AUTH PLAIN/LOGIN)",
        f"  feedback receiver:   {settings.feedback.listen} for @{settings.feedback.domain}",
        f"  mailbox simulator:   {', '.join(settings.simulator.domains)}",
        f"  verified identities: {', '.join(settings.identities.verified) or 'none yet'}",
    ]
    for credential in settings.credentials:
        lines.append(
            f"  credentials:         {credential.access_key_id} / {credential.secret_access_key}"
        )
    return "\n".join(lines) + "\n"


def serve(settings: Settings, data_dir: Path, role: str = "all") -> int:
    configure_logging()
    # uvloop: the delivery and SMTP paths spend 12-25% less CPU per message on it.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(settings, data_dir, role))


async def _serve(settings: Settings, data_dir: Path, role: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = Service(settings, data_dir, banner=sys.stdout, role=role)
    try:
        await service.run(stop)
    except AnotherWorkerRuns as error:
        print(f"sendtrail: {error}", file=sys.stderr)
        return 2
    return 0
