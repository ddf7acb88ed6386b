"""Domain identities verified by real DNS lookups on loopback (TXT token or Easy-DKIM)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from support.dns_server import LoopbackDnsServer

from sendtrail.adapters.app import App
from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.identity_verifier import IdentityVerifier
from sendtrail.core import resources as res

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


World = tuple[LoopbackDnsServer, App]


@pytest.fixture
def dns_and_app(tmp_path: Path) -> Iterator[World]:
    zone: dict[str, dict[str, list[str]]] = {}
    with LoopbackDnsServer(
        zone, host="127.0.0.5", servfail=["_amazonses.broken.example"]
    ) as server:
        settings = msgspec.convert({"dns": {"nameservers": [server.address]}}, Settings)
        app = App(settings, tmp_path, clock=ManualClock(T0), durable=False)
        yield server, app
        app.close()


def test_a_domain_verifies_by_its_txt_token_or_its_dkim_records(dns_and_app: World) -> None:
    server, app = dns_and_app
    token_domain = app.account.create_identity("token.example", actor="test")
    dkim_domain = app.account.create_identity("dkim.example", actor="test")
    app.account.create_identity("missing.example", actor="test")
    assert dkim_domain.dkim is not None
    server.zone["_amazonses.token.example"] = {"TXT": [f'"{token_domain.verification_token}"']}
    for token in dkim_domain.dkim.tokens:
        server.zone[f"{token}._domainkey.dkim.example"] = {
            "CNAME": [f"{token}.dkim.amazonses.com."]
        }

    checked = {i.name: i for i in asyncio.run(IdentityVerifier(app).check_pending())}

    assert checked["token.example"].verification_status == res.SUCCESS
    assert checked["dkim.example"].verification_status == res.SUCCESS
    assert checked["dkim.example"].dkim.status == res.SUCCESS  # type: ignore[union-attr]
    missing = checked["missing.example"]
    assert (missing.verification_status, missing.verification_error) == (
        res.PENDING,
        "HOST_NOT_FOUND",
    )
    assert app.account.identity("token.example").verified


def test_a_failing_nameserver_is_a_temporary_failure(dns_and_app: World) -> None:
    _, app = dns_and_app
    app.account.create_identity("broken.example", actor="test")

    [checked] = asyncio.run(IdentityVerifier(app).check_pending())

    assert checked.verification_status == res.TEMPORARY_FAILURE
