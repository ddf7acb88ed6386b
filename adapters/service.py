"""``sendtrail serve``: one process running the engine and every surface around it.

The runtime owns the engine and a list of components (the HTTP API, SMTP servers, delivery
workers, the notifier). Each component starts in order and stops in reverse order, so that
on SIGTERM/SIGINT the surfaces stop accepting first and the engine closes last, after
everything in flight has been written.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Protocol

from .app import App
from .clock import Clock
from .config import Settings
from .feedback_receiver import FeedbackReceiver
from .http_server import HttpServer
from .logs import configure_logging
from .notifier import Notifier
from .simulator_server import SimulatorServer
from .smtp_submission import SmtpSubmission

log = logging.getLogger("sendtrail.service")


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Service:
    def __init__(self, settings: Settings, data_dir: Path, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.app = App(settings, data_dir, clock=clock)
        self.engine = self.app.engine
        self.simulator = SimulatorServer(settings.simulator.domains, settings.feedback.listen)
        self.feedback = FeedbackReceiver(self.app)
        self.smtp = SmtpSubmission(self.app, settings.smtp, data_dir=data_dir)
        self.notifier = Notifier(self.engine.store, settings, clock=self.app.clock)
        self.app.outbox().add_listener(self.notifier.wake)
        self.http = HttpServer(self)
        # Started in this order and stopped in reverse: the surfaces that accept mail stop
        # first, the engine's own workers after them, the log last.
        self.components: list[Component] = [
            self.notifier,
            self.simulator,
            self.feedback,
            self.smtp,
            self.http,
        ]
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        started: list[Component] = []
        try:
            for component in self.components:
                await component.start()
                started.append(component)
            self.ready.set()
            log.info("ready", extra={"data_dir": str(self.data_dir)})
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


def serve(settings: Settings, data_dir: Path) -> int:
    configure_logging()
    return asyncio.run(_serve(settings, data_dir))


async def _serve(settings: Settings, data_dir: Path) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = Service(settings, data_dir)
    await service.run(stop)
    return 0
