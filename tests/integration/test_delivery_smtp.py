"""One attempt over real SMTP on loopback: replies per recipient, failures, TLS, pooling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.delivery import RAW
from support.dns_server import LoopbackDnsServer
from support.mx_server import (
    DROP,
    STALL,
    LoopbackSmtpServer,
    Script,
    free_port,
    self_signed,
    server_tls_context,
)

from sendtrail.adapters.delivery.content import prepare
from sendtrail.adapters.delivery.pool import ConnectionPool
from sendtrail.adapters.delivery.resolver import DnsResolver
from sendtrail.adapters.delivery.smtp import Envelope, RecipientResult, SmtpDeliverer
from sendtrail.adapters.delivery.smtp_client import Timeouts
from sendtrail.core.delivery.outcomes import OutcomeKind, Phase, classify_reply

SENDER = "0100019e073d2c68-04b83c28-ae44-470a-afe5-6d58b9fb4ac5-000000@feedback.test"
TIMEOUTS = Timeouts(connect=1.0, command=0.5, data=0.5)


@pytest.fixture(scope="module")
def mx_port() -> int:
    """The port every MX host listens on, as with port 25 in real life."""
    return free_port()


@pytest.fixture(scope="module")
def dns() -> Iterator[LoopbackDnsServer]:
    zone = {
        # The preferred MX has nothing listening: the attempt moves on to the second.
        "fallback.test": {"MX": ["10 down.fallback.test.", "20 up.fallback.test."]},
        "down.fallback.test": {"A": ["127.0.0.9"]},
        "up.fallback.test": {"A": ["127.0.0.3"]},
        "tls.test": {"MX": ["10 mx.tls.test."]},
        "mx.tls.test": {"A": ["127.0.0.4"]},
    }
    with LoopbackDnsServer(zone) as server:
        yield server


def deliverer(
    dns: LoopbackDnsServer | None = None,
    *,
    routes: dict[str, str] | None = None,
    mx_port: int = 25,
    pool: ConnectionPool | None = None,
    ca_file: Path | None = None,
) -> SmtpDeliverer:
    resolver = DnsResolver(
        [dns.address] if dns else ["127.0.0.1:9"], timeout=0.5, routes=routes, smtp_port=mx_port
    )
    return SmtpDeliverer(
        resolver,
        pool or ConnectionPool(),
        ehlo_name="mta.sendtrail.test",
        timeouts=TIMEOUTS,
        tls_ca_file=str(ca_file) if ca_file else None,
    )


def envelope(*recipients: str, raw: bytes = RAW, tls_required: bool = False) -> Envelope:
    return Envelope(
        sender=SENDER, recipients=recipients, content=prepare(raw), tls_required=tls_required
    )


def send(subject: SmtpDeliverer, domain: str, *envelopes: Envelope) -> list[list[RecipientResult]]:
    async def scenario() -> list[list[RecipientResult]]:
        try:
            return [await subject.deliver(domain, each) for each in envelopes]
        finally:
            await subject.close()

    return asyncio.run(scenario())


def routed(server: LoopbackSmtpServer, **kwargs: object) -> SmtpDeliverer:
    return deliverer(routes={"example.test": server.address}, **kwargs)  # type: ignore[arg-type]


def test_a_message_is_delivered_pipelined_with_the_verp_sender_and_its_exact_bytes() -> None:
    with LoopbackSmtpServer() as server:
        [[result]] = send(routed(server), "example.test", envelope("someone@example.test"))
    assert result.outcome.kind is OutcomeKind.DELIVERED
    assert result.outcome.smtp_response == "250 2.0.0 Ok: queued as TEST"
    assert result.remote_ip == "127.0.0.2"
    [received] = server.messages
    assert received.mail_from == SENDER
    assert received.data == RAW  # dot-stuffing undone by the server: the bytes as they were
    assert server.pipelined == 1


def test_each_recipient_gets_its_own_rcpt_verdict_in_one_transaction() -> None:
    script = Script(rcpt={"unknown": "550 5.1.1 User unknown", "full": "452 4.2.2 Mailbox full"})
    with LoopbackSmtpServer(script=script) as server:
        [results] = send(
            routed(server),
            "example.test",
            envelope("ok@example.test", "unknown@example.test", "full@example.test"),
        )
    ok, unknown, full = (result.outcome for result in results)
    assert ok.kind is OutcomeKind.DELIVERED
    # What the reply means is the core's call; the adapter passes it the reply and the phase.
    assert unknown == classify_reply(Phase.RCPT, 550, "5.1.1 User unknown")
    assert (unknown.kind, unknown.status) == (OutcomeKind.HARD, "5.1.1")
    assert full.kind is OutcomeKind.SOFT
    assert full.diagnostic_code == "smtp; 452 4.2.2 Mailbox full"
    assert server.connections == 1
    assert [m.rcpt_tos for m in server.messages] == [["ok@example.test"]]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("451 4.3.0 Try again later", OutcomeKind.SOFT),
        ("452 4.3.1 Insufficient system storage", OutcomeKind.SOFT),
        ("550 5.7.1 Message rejected as spam", OutcomeKind.HARD),
        ("552 5.3.4 Message too big", OutcomeKind.HARD),
    ],
)
def test_the_reply_to_the_data_decides_for_every_accepted_recipient(
    reply: str, kind: OutcomeKind
) -> None:
    with LoopbackSmtpServer(script=Script(data=[reply])) as server:
        [results] = send(
            routed(server), "example.test", envelope("a@example.test", "b@example.test")
        )
    assert {r.outcome.kind for r in results} == {kind}
    assert {r.outcome.diagnostic_code for r in results} == {f"smtp; {reply}"}


def test_a_refused_sender_fails_every_recipient() -> None:
    with LoopbackSmtpServer(script=Script(mail="550 5.7.1 Sender not allowed")) as server:
        [results] = send(
            routed(server), "example.test", envelope("a@example.test", "b@example.test")
        )
    assert {r.outcome.kind for r in results} == {OutcomeKind.HARD}
    assert {r.outcome.diagnostic_code for r in results} == {"smtp; 550 5.7.1 Sender not allowed"}


def test_a_connection_dropped_during_data_is_a_soft_failure() -> None:
    with LoopbackSmtpServer(script=Script(data=[DROP])) as server:
        [[result]] = send(routed(server), "example.test", envelope("a@example.test"))
    assert result.outcome.kind is OutcomeKind.SOFT
    assert result.outcome.diagnostic_code == "smtp; 421 4.4.2 Connection dropped by remote host"


def test_a_server_that_stalls_times_out_as_a_soft_failure() -> None:
    with LoopbackSmtpServer(script=Script(data=[STALL], stall_seconds=5)) as server:
        started = time.monotonic()
        [[result]] = send(routed(server), "example.test", envelope("a@example.test"))
    assert time.monotonic() - started < 3
    assert result.outcome.kind is OutcomeKind.SOFT
    assert result.outcome.diagnostic_code == (
        "smtp; 421 4.4.2 Timed out waiting for response from remote host"
    )


def test_a_refused_connection_is_soft_and_the_next_mx_is_tried(
    dns: LoopbackDnsServer, mx_port: int
) -> None:
    refused = send(
        deliverer(routes={"example.test": "127.0.0.9:9"}),
        "example.test",
        envelope("a@example.test"),
    )
    assert refused[0][0].outcome.diagnostic_code == (
        "smtp; 421 4.4.1 Unable to connect to remote host"
    )
    with LoopbackSmtpServer("127.0.0.3", mx_port) as server:
        [[result]] = send(
            deliverer(dns, mx_port=mx_port), "fallback.test", envelope("a@fallback.test")
        )
    assert result.outcome.kind is OutcomeKind.DELIVERED
    assert result.remote_ip == "127.0.0.3"
    assert server.delivered_to() == ["a@fallback.test"]


def test_connections_are_reused_across_messages_up_to_the_limit() -> None:
    messages = [envelope(f"r{i}@example.test") for i in range(5)]
    with LoopbackSmtpServer() as server:
        send(routed(server), "example.test", *messages)
    assert server.connections == 1
    assert len(server.messages) == 5
    with LoopbackSmtpServer() as server:
        pool = ConnectionPool(max_messages_per_connection=2)
        send(routed(server, pool=pool), "example.test", *messages)
    assert server.connections == 3  # 2 + 2 + 1


def test_concurrent_messages_share_the_connections_a_host_is_allowed() -> None:
    async def scenario(subject: SmtpDeliverer) -> list[list[RecipientResult]]:
        try:
            return await asyncio.gather(
                *(subject.deliver("example.test", envelope(f"r{i}@example.test")) for i in range(8))
            )
        finally:
            await subject.close()

    with LoopbackSmtpServer() as server:
        pool = ConnectionPool(max_per_host=2)
        results = asyncio.run(scenario(routed(server, pool=pool)))
    assert {r.outcome.kind for [r] in results} == {OutcomeKind.DELIVERED}
    assert server.connections == 2
    assert len(server.messages) == 8


def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def scenario(subject: SmtpDeliverer) -> list[RecipientResult]:
        try:
            first = await subject.deliver("example.test", envelope("a@example.test"))
            await asyncio.sleep(0.5)  # the server's idle timeout closes the pooled connection
            return first + await subject.deliver("example.test", envelope("b@example.test"))
        finally:
            await subject.close()

    with LoopbackSmtpServer(script=Script(idle_timeout=0.2)) as server:
        results = asyncio.run(scenario(routed(server)))
    assert {r.outcome.kind for r in results} == {OutcomeKind.DELIVERED}
    assert server.connections == 2


def test_bare_line_feeds_are_sent_as_crlf() -> None:
    with LoopbackSmtpServer() as server:
        send(
            routed(server), "example.test", envelope("a@example.test", raw=b"Subject: x\n\n.\nbye")
        )
    assert server.messages[0].data == b"Subject: x\r\n\r\n.\r\nbye\r\n"


def test_without_pipelining_the_commands_go_one_by_one() -> None:
    with LoopbackSmtpServer(script=Script(pipelining=False)) as server:
        [results] = send(
            routed(server), "example.test", envelope("a@example.test", "b@example.test")
        )
    assert {r.outcome.kind for r in results} == {OutcomeKind.DELIVERED}
    assert server.pipelined == 0


def test_eight_bit_content_is_declared_with_8bitmime() -> None:
    eight_bit = RAW.replace(b"Hello there.", "Grüße.".encode())
    with LoopbackSmtpServer() as server:
        send(routed(server), "example.test", envelope("a@example.test", raw=eight_bit))
        send(routed(server), "example.test", envelope("b@example.test"))
    first, second = server.messages
    assert "BODY=8BITMIME" in first.mail_options
    assert first.data == eight_bit
    assert "BODY=8BITMIME" not in second.mail_options


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    return self_signed(tmp_path, "mx.tls.test", "127.0.0.4")


def test_starttls_is_used_whenever_offered_even_with_a_self_signed_certificate(
    certificate: tuple[Path, Path],
) -> None:
    script = Script(tls=server_tls_context(*certificate))
    with LoopbackSmtpServer(script=script) as server:
        [[result]] = send(routed(server), "example.test", envelope("a@example.test"))
    assert result.outcome.kind is OutcomeKind.DELIVERED
    assert [m.tls for m in server.messages] == [True]


def test_required_tls_is_not_given_up_for_plain_text() -> None:
    with LoopbackSmtpServer() as server:
        [[result]] = send(
            routed(server), "example.test", envelope("a@example.test", tls_required=True)
        )
    assert result.outcome.kind is OutcomeKind.SOFT
    assert result.outcome.status == "4.7.4"
    assert server.messages == []


def test_required_tls_needs_a_certificate_the_engine_trusts(
    dns: LoopbackDnsServer, mx_port: int, certificate: tuple[Path, Path]
) -> None:
    script = Script(tls=server_tls_context(*certificate))
    required = envelope("a@tls.test", tls_required=True)
    with LoopbackSmtpServer("127.0.0.4", mx_port, script) as server:
        [[untrusted]] = send(deliverer(dns, mx_port=mx_port), "tls.test", required)
        [[trusted]] = send(
            deliverer(dns, mx_port=mx_port, ca_file=certificate[0]), "tls.test", required
        )
    assert untrusted.outcome.kind is OutcomeKind.SOFT
    assert untrusted.outcome.status == "4.7.5"
    assert trusted.outcome.kind is OutcomeKind.DELIVERED
    assert [m.tls for m in server.messages] == [True]
