"""The SES HTTP API: v1 (Query, ``POST /``) and v2 (REST-JSON, ``/v2/email/...``).

``mount_ses_api`` adds both to the HTTP listener's aiohttp application, behind SigV4
verification. Handlers stay thin: they parse the wire format into the engine's request
types, call ``App`` and render what it answers; every error is an ``SesError`` (or a SigV4
refusal) rendered in the wire format of the API addressed.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from sendtrail.adapters.app import App

from . import (
    v1_dispatch,
    v2_account,
    v2_configuration_sets,
    v2_identities,
    v2_sending,
    v2_suppression,
    v2_templates,
)
from .context import ApiContext
from .middleware import ses_api_middleware
from .sigv4 import SigV4Verifier
from .v2_call import add_routes

V2_ROUTES = [
    *v2_sending.ROUTES,
    *v2_identities.ROUTES,
    *v2_configuration_sets.ROUTES,
    *v2_templates.ROUTES,
    *v2_suppression.ROUTES,
    *v2_account.ROUTES,
]


def mount_ses_api(web_app: web.Application, app: App, *, public_paths: Iterable[str]) -> None:
    """Serve the SES API from ``web_app``; ``public_paths`` (health, metrics) need no
    signature."""
    context = ApiContext(app)
    verifier = SigV4Verifier(app.settings.credentials, app.settings.region)
    web_app.middlewares.append(ses_api_middleware(verifier, frozenset(public_paths)))
    v1_dispatch.add_routes(web_app.router, context)
    add_routes(web_app.router, context, V2_ROUTES)


__all__ = ["mount_ses_api"]
