"""Clients that misbehave: junk, huge lines, early disconnects, idling. The server survives
each one, keeps serving the next client, and loses nothing it accepted."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.smtp_submission_client import RawClient
from support.smtp_submission_server import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SubmissionServer,
    accepted_count,
    client_tls_context,
    message,
    submission_settings,
)

SENDER = "news@example.com"
RECIPIENT = "reader@example.net"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SubmissionServer]:
    settings = submission_settings(smtp={"tls_listen": "127.0.0.1:0"})
    with SubmissionServer(tmp_path, settings) as running:
        yield running


def send_normally(server: SubmissionServer) -> str:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    client.starttls(context=client_tls_context())
    client.login(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    client.mail(SENDER)
    client.rcpt(RECIPIENT)
    code, text = client.data(message())
    client.quit()
    assert code == 250, text
    return text.decode().split(" ")[1]


def authenticated_raw(server: SubmissionServer) -> RawClient:
    client = RawClient(server.port)
    client.command(b"EHLO junk.example")
    client.starttls(client_tls_context())
    client.command(b"EHLO junk.example")
    assert client.auth_plain(ACCESS_KEY_ID, SECRET_ACCESS_KEY).startswith(b"235")
    return client


def wait_until(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_junk_and_oversized_lines_leave_the_server_working(server: SubmissionServer) -> None:
    earlier = send_normally(server)

    client = RawClient(server.port)
    junk_replies = [
        client.command(os.urandom(2000).replace(b"\n", b"").replace(b"\r", b"")),
        client.command(b"\x00\x01\x02 \xff\xfe"),
        client.command(b"MAIL FROM:<" + b"a" * 300_000),  # one line of 300 kB
        client.command(b""),
        client.command(b"MAIL FROM:<news@example.com>"),  # before EHLO
    ]
    client.close()

    assert all(reply[:1] in (b"5", b"") for reply in junk_replies), junk_replies
    assert junk_replies[2] == b"500 Command line too long"
    later = send_normally(server)
    assert server.app.engine.read_model.message(earlier) is not None
    assert server.app.engine.read_model.message(later) is not None


def test_a_stream_of_unknown_commands_is_cut_off(server: SubmissionServer) -> None:
    client = RawClient(server.port)
    try:
        for _ in range(10):
            client.send(b"FROB nicate\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may hang up before the last ones are written: that is the point
    assert client.closed_by_server()
    client.close()
    send_normally(server)


def test_bad_auth_exchanges_are_refused_and_the_session_goes_on(server: SubmissionServer) -> None:
    client = RawClient(server.port)
    client.command(b"EHLO junk.example")
    client.starttls(client_tls_context())
    client.command(b"EHLO junk.example")
    replies = [
        client.command(b"AUTH PLAIN !!!not-base64!!!"),
        client.command(b"AUTH CRAM-MD5"),
        client.command(b"AUTH"),
    ]
    ok = client.auth_plain(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    client.close()
    assert all(reply.startswith(b"5") for reply in replies), replies
    assert ok == b"235 Authentication successful."


def test_early_disconnects_at_every_stage(server: SubmissionServer) -> None:
    # Before the banner is read, mid-command, mid-TLS handshake, mid-DATA, on the TLS port.
    socket.create_connection(("127.0.0.1", server.port)).close()
    half = RawClient(server.port)
    half.send(b"EHLO half-a-comm")
    half.close()
    handshake = RawClient(server.port)
    handshake.command(b"EHLO x")
    assert handshake.command(b"STARTTLS") == b"220 Ready to start TLS"
    handshake.send(b"\x16\x03\x01 this is not a ClientHello")
    handshake.close()
    with socket.create_connection(("127.0.0.1", server.tls_port)) as plaintext_on_tls:
        plaintext_on_tls.sendall(b"EHLO plain\r\n")
    partial = authenticated_raw(server)
    partial.command(b"MAIL FROM:<news@example.com>")
    partial.command(b"RCPT TO:<reader@example.net>")
    assert partial.command(b"DATA").startswith(b"354")
    partial.send(b"From: news@example.com\r\nSubject: half\r\n\r\nand then nothing")
    partial.close()
    before = accepted_count(server.app)

    send_normally(server)

    assert accepted_count(server.app) == before + 1


def test_a_message_with_an_overlong_line_is_refused_by_ses_s_rule(server: SubmissionServer) -> None:
    client = authenticated_raw(server)
    client.command(b"MAIL FROM:<news@example.com>")
    client.command(b"RCPT TO:<reader@example.net>")
    client.command(b"DATA")
    reply = client.command(message(body="y" * 5000) + b".")
    after = client.command(b"NOOP")
    client.close()
    assert reply.startswith(b"554 Transaction failed: "), reply
    assert after == b"250 Ok"


def test_line_endings_become_crlf_and_dots_are_unstuffed(tmp_path: Path) -> None:
    settings = submission_settings(smtp={"trusted_networks": ["127.0.0.1/32"]})
    with SubmissionServer(tmp_path, settings) as server:
        client = RawClient(server.port)
        client.command(b"HELO trusted.example")
        client.command(b"MAIL FROM:<news@example.com>")
        client.command(b"RCPT TO:<reader@example.net>")
        client.command(b"DATA")
        body = (
            b"From: news@example.com\nTo: reader@example.net\r\nSubject: mixed\r\n\r\n"
            b"..a stuffed dot\r\nbare lf\nbare cr\rend\r\n.\r\n"
        )
        reply = client.command(body.removesuffix(b"\r\n"))
        client.close()
        message_id = reply.decode().split(" ")[2]
        first = server.app.engine.store.read_stream(message_id)[0].event
        stored = server.app.engine.store.get_content(first.content_sha256)  # type: ignore[attr-defined]
    assert stored == (
        b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: mixed\r\n\r\n"
        b".a stuffed dot\r\nbare lf\r\nbare cr\r\nend\r\n"
    )


def test_a_client_gone_before_the_reply_still_has_its_message_recorded(
    server: SubmissionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = server.app.sender.send

    async def slow_send(request: Any) -> str:
        await asyncio.sleep(0.3)
        return await real_send(request)

    monkeypatch.setattr(server.app.sender, "send", slow_send)
    before = accepted_count(server.app)
    client = authenticated_raw(server)
    client.command(b"MAIL FROM:<news@example.com>")
    client.command(b"RCPT TO:<reader@example.net>")
    client.command(b"DATA")
    client.send(message() + b".\r\n")
    client.close()

    assert wait_until(lambda: accepted_count(server.app) == before + 1)


def test_stopping_waits_for_sends_under_way(
    server: SubmissionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = server.app.sender.send

    async def slow_send(request: Any) -> str:
        await asyncio.sleep(0.3)
        return await real_send(request)

    monkeypatch.setattr(server.app.sender, "send", slow_send)
    before = accepted_count(server.app)
    client = authenticated_raw(server)
    client.command(b"MAIL FROM:<news@example.com>")
    client.command(b"RCPT TO:<reader@example.net>")
    client.command(b"DATA")
    client.send(message() + b".\r\n")
    time.sleep(0.1)

    server.call(server.smtp.stop())

    assert accepted_count(server.app) == before + 1
    client.close()


def test_an_idle_client_is_told_and_disconnected(tmp_path: Path) -> None:
    with SubmissionServer(tmp_path, idle_timeout=0.3) as server:
        client = RawClient(server.port)
        client.command(b"EHLO idle.example")
        reply = client.reply()
        closed = client.closed_by_server()
        client.close()
    assert reply == b"451 4.4.2 Timeout waiting for data from client."
    assert closed


def test_connections_beyond_the_limit_are_refused_with_421(tmp_path: Path) -> None:
    with SubmissionServer(tmp_path, max_connections=2) as server:
        first, second = RawClient(server.port), RawClient(server.port)
        third = RawClient(server.port)
        assert third.banner == b"421 Too many concurrent SMTP connections"
        for client in (first, second, third):
            client.close()
        assert wait_until(lambda: not server.smtp.gateway.sessions)
        fourth = RawClient(server.port)
        assert fourth.banner.startswith(b"220 ")
        fourth.close()
