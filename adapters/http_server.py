"""The HTTP listener: the SES API (v1 and v2, SigV4-verified), health and metrics (open).

A worker process (``--role worker``) can serve health and metrics alone, on
``[workers] http_listen``: its delivery latency is observed there, not by the API processes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .http_api import mount_ses_api

if TYPE_CHECKING:
    from .metrics import Metrics
    from .service import Service

log = logging.getLogger("sendtrail.http")


class HttpServer:
    name = "http"

    def __init__(self, service: Service, *, listen: str | None = None, api: bool = True) -> None:
        self.service = service
        self.listen = listen or service.settings.http.listen
        self.metrics: Metrics = service.metrics
        self.app = web.Application(client_max_size=48 * 2**20)
        self.app.router.add_get("/healthz", self._health)
        self.app.router.add_get("/metrics", self._metrics)
        if api:
            # Probes and scrapers carry no AWS credentials: only these two paths skip SigV4.
            mount_ses_api(self.app, service.app, public_paths=("/healthz", "/metrics"))
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        log.info("http listening", extra={"address": f"{host}:{self.port}"})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        if not self.service.ready.is_set():
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ok"})

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})
