"""Checks pending domain identities in DNS, as SES does until they verify or 72 hours pass.

A domain verifies with its TXT token at ``_amazonses.<domain>``, or with its Easy-DKIM
records (the three CNAMEs, or sendtrail's key published at ``<selector>._domainkey``). The
lookups go through ``[dns] nameservers``; what they mean is decided by the pure
``core.identity_verification``, and every change of status is an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import dns.exception
import dns.resolver

from sendtrail.core import resources as res
from sendtrail.core.identity_verification import DnsFindings, verification_record_name

from .app import App
from .delivery.resolver import build_resolver

log = logging.getLogger("sendtrail.identities")

CHECKED_STATUSES = frozenset({res.PENDING, res.TEMPORARY_FAILURE})


class IdentityVerifier:
    """A service component re-checking pending domains every ``interval`` seconds."""

    name = "identity-verifier"

    def __init__(self, app: App, *, interval: float = 60.0, timeout: float = 5.0) -> None:
        self.app = app
        self.interval = interval
        self._resolver = build_resolver(app.settings.dns.nameservers, timeout)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="identity-verifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def check_pending(self) -> list[res.Identity]:
        """Check every domain still waiting for its records; returns them as they are now."""
        checked = []
        for identity in self.app.account.identities(res.DOMAIN):
            if identity.trusted or identity.verification_status not in CHECKED_STATUSES:
                continue
            findings = await self.findings(identity)
            checked.append(self.app.account.record_dns_check(identity.name, findings))
        return checked

    async def findings(self, identity: res.Identity) -> DnsFindings:
        domain = identity.name
        txt, error = await self._lookup(verification_record_name(domain), "TXT")
        cnames: list[str] = []
        dkim_txt: list[str] = []
        if identity.dkim is not None:
            for token in identity.dkim.tokens:
                targets, _ = await self._lookup(f"{token}._domainkey.{domain}", "CNAME")
                cnames.extend(targets)
            dkim_txt, _ = await self._lookup(f"{identity.dkim.selector}._domainkey.{domain}", "TXT")
        return DnsFindings(
            txt_records=tuple(txt),
            dkim_cnames=tuple(cnames),
            dkim_txt=tuple(dkim_txt),
            error=error,
        )

    async def _lookup(self, name: str, rdtype: str) -> tuple[list[str], str | None]:
        """Record texts, and SES's ``VerificationInfo.ErrorType`` when there are none."""
        try:
            answer = await self._resolver.resolve(name, rdtype)
        except dns.resolver.NXDOMAIN:
            return [], "HOST_NOT_FOUND"
        except dns.resolver.NoAnswer:
            return [], "TYPE_NOT_FOUND"
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            return [], "DNS_SERVER_ERROR"
        if rdtype == "TXT":
            return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer], None
        return [rdata.to_text() for rdata in answer], None

    async def _run(self) -> None:
        while True:
            try:
                await self.check_pending()
            except Exception:
                log.exception("identity check failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
