"""SMTP submission driven by Python's smtplib on loopback: SES's replies for every outcome."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.smtp_submission_server import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SubmissionServer,
    client_tls_context,
    message,
    submission_settings,
)

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.smtp_submission import smtp_password
from sendtrail.core import events as ev
from sendtrail.core import resources as res

SENDER = "news@example.com"
RECIPIENT = "reader@example.net"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SubmissionServer]:
    with SubmissionServer(tmp_path) as running:
        yield running


def connect(server: SubmissionServer, *, tls: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    client.ehlo("client.example")
    if tls:
        client.starttls(context=client_tls_context())
        client.ehlo("client.example")
    return client


def authenticated(server: SubmissionServer, password: str = SECRET_ACCESS_KEY) -> smtplib.SMTP:
    client = connect(server)
    client.login(ACCESS_KEY_ID, password)
    return client


def transaction(client: smtplib.SMTP, data: bytes, sender: str = SENDER) -> tuple[int, bytes]:
    """MAIL, RCPT, DATA one by one, so a refusal after DATA comes back as a reply."""
    assert client.mail(sender)[0] == 250
    assert client.rcpt(RECIPIENT)[0] == 250
    return client.data(data)


def accepted_id(reply: tuple[int, bytes]) -> str:
    code, text = reply
    assert code == 250, reply
    ok, message_id = text.decode().split(" ")
    assert ok == "Ok"
    return message_id


def requested(server: SubmissionServer, message_id: str) -> ev.SendRequested:
    first = server.app.engine.store.read_stream(message_id)[0].event
    assert isinstance(first, ev.SendRequested)
    return first


# --- accepted sends -------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
@pytest.mark.parametrize("password_kind", ["secret", "smtp password"])
def test_starttls_and_auth_then_a_message_is_accepted_with_its_id(
    server: SubmissionServer, mechanism: str, password_kind: str
) -> None:
    password = (
        SECRET_ACCESS_KEY
        if password_kind == "secret"
        else smtp_password(SECRET_ACCESS_KEY, "us-east-1")
    )
    client = connect(server)
    client.user, client.password = ACCESS_KEY_ID, password
    authenticator = client.auth_login if mechanism == "LOGIN" else client.auth_plain

    auth_reply = client.auth(mechanism, authenticator, initial_response_ok=False)
    reply = transaction(client, message())
    client.quit()

    assert auth_reply == (235, b"Authentication successful.")
    message_id = accepted_id(reply)
    view = server.app.engine.read_model.message(message_id)
    assert view is not None and view.source == SENDER
    event = requested(server, message_id)
    assert event.caller == ACCESS_KEY_ID
    assert event.source_ip == "127.0.0.1"
    assert event.operation == "SendRawEmail"


def test_the_banner_and_ehlo_read_as_ses_s(server: SubmissionServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        banner = raw.recv(1024)
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    before_tls = client.ehlo("client.example")
    client.starttls(context=client_tls_context())
    after_tls = client.ehlo("client.example")
    client.quit()

    assert banner.startswith(b"220 ")
    assert banner.endswith(b" ESMTP SimpleEmailService-sendtrail\r\n")
    common = [b"8BITMIME", b"SIZE 41943040"]
    assert before_tls[1].splitlines()[1:] == [*common, b"STARTTLS", b"Ok"]
    assert after_tls[1].splitlines()[1:] == [*common, b"AUTH PLAIN LOGIN", b"Ok"]


def test_implicit_tls_port_takes_auth_and_mail(tmp_path: Path) -> None:
    settings = submission_settings(smtp={"tls_listen": "127.0.0.1:0"})
    with SubmissionServer(tmp_path, settings) as server:
        client = smtplib.SMTP_SSL(
            "127.0.0.1", server.tls_port, timeout=10, context=client_tls_context()
        )
        client.ehlo("client.example")
        assert "starttls" not in client.esmtp_features
        client.login(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        reply = transaction(client, message())
        client.quit()
        assert server.app.engine.read_model.message(accepted_id(reply)) is not None


def test_a_trusted_network_submits_without_auth_or_tls(tmp_path: Path) -> None:
    settings = submission_settings(smtp={"trusted_networks": ["127.0.0.0/8"]})
    with SubmissionServer(tmp_path, settings) as server:
        client = connect(server, tls=False)
        reply = transaction(client, message())
        client.quit()
        message_id = accepted_id(reply)
        assert requested(server, message_id).caller is None


def test_ses_headers_choose_the_configuration_set_and_tags(server: SubmissionServer) -> None:
    server.app.account.create_configuration_set(
        res.ConfigurationSet(name="newsletters", created_at=T0), actor=None
    )
    data = message(
        headers=(
            ("X-SES-CONFIGURATION-SET", "newsletters"),
            ("X-SES-MESSAGE-TAGS", "campaign=spring, audience=all"),
        )
    )
    client = authenticated(server)
    reply = transaction(client, data)
    client.quit()

    event = requested(server, accepted_id(reply))
    assert event.configuration_set == "newsletters"
    assert [(tag.name, tag.value) for tag in event.tags] == [
        ("campaign", "spring"),
        ("audience", "all"),
    ]
    # Passed on as received; the headers are removed at assembly.
    assert server.app.engine.store.get_content(event.content_sha256 or "") == data


def test_many_sessions_at_once_each_get_their_own_message_id(server: SubmissionServer) -> None:
    def one_session(index: int) -> str:
        client = authenticated(server)
        reply = transaction(client, message(subject=f"Hello {index}"))
        client.quit()
        return accepted_id(reply)

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(one_session, range(32)))

    assert len(set(ids)) == 32
    assert all(server.app.engine.read_model.message(i) is not None for i in ids)


def test_one_connection_carries_several_messages(server: SubmissionServer) -> None:
    client = authenticated(server)
    ids = [accepted_id(transaction(client, message(subject=f"n{i}"))) for i in range(5)]
    client.quit()
    assert len(set(ids)) == 5


# --- refusals -------------------------------------------------------------------------------


def test_auth_is_neither_offered_nor_accepted_before_tls(server: SubmissionServer) -> None:
    client = connect(server, tls=False)
    assert not client.has_extn("auth")
    reply = client.docmd("AUTH", "PLAIN AEFLSUFJT1NGT0ROTjdFWEFNUExFAHNlY3JldA==")
    client.quit()
    assert reply == (530, b"Must issue a STARTTLS command first")


@pytest.mark.parametrize("tls", [False, True])
def test_mail_rcpt_and_data_without_auth_are_refused_with_530(
    server: SubmissionServer, tls: bool
) -> None:
    client = connect(server, tls=tls)
    replies = [client.mail(SENDER), client.rcpt(RECIPIENT), client.docmd("DATA")]
    client.quit()
    assert replies == [(530, b"Authentication required")] * 3


@pytest.mark.parametrize(
    ("user", "password"),
    [(ACCESS_KEY_ID, "wrong"), ("AKIAUNKNOWN", SECRET_ACCESS_KEY), (ACCESS_KEY_ID, "")],
)
def test_bad_credentials_get_535(server: SubmissionServer, user: str, password: str) -> None:
    client = connect(server)
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login(user, password)
    after = client.mail(SENDER)
    client.quit()
    assert (refused.value.smtp_code, refused.value.smtp_error) == (
        535,
        b"Authentication Credentials Invalid",
    )
    assert after == (530, b"Authentication required")


def test_an_unverified_sender_is_rejected_after_data(server: SubmissionServer) -> None:
    client = authenticated(server)
    reply = transaction(
        client, message(sender="someone@unverified.example"), sender="someone@unverified.example"
    )
    client.quit()
    assert reply == (
        554,
        b"Message rejected: Email address is not verified. The following identities failed "
        b"the check in region US-EAST-1: someone@unverified.example",
    )


def test_throttling_is_454(tmp_path: Path) -> None:
    settings = submission_settings(account={"max_send_rate": 1.0})
    with SubmissionServer(tmp_path, settings, clock=ManualClock(T0)) as server:
        client = authenticated(server)
        first = transaction(client, message())
        second = transaction(client, message())
        client.quit()
    accepted_id(first)
    assert second == (454, b"Throttling failure: Maximum sending rate exceeded.")


def test_an_unknown_configuration_set_header_gets_ses_s_error(server: SubmissionServer) -> None:
    client = authenticated(server)
    reply = transaction(client, message(headers=(("X-SES-CONFIGURATION-SET", "nope"),)))
    client.quit()
    assert reply == (554, b"Transaction failed: Configuration set <nope> does not exist.")


def test_oversize_messages_get_552_at_mail_and_after_data(server: SubmissionServer) -> None:
    limit = 40 * 1024 * 1024
    line = b"x" * 998 + b"\r\n"
    big = message() + line * (limit // len(line) + 1)
    client = authenticated(server)
    declared = client.mail(SENDER, [f"SIZE={limit + 1}"])
    client.rset()
    sent = transaction(client, big)
    after = transaction(client, message())
    client.quit()

    assert declared == (552, b"Message is too long.")
    assert sent == (552, b"Message is too long.")
    accepted_id(after)


def test_bad_addresses_get_553(server: SubmissionServer) -> None:
    client = authenticated(server)
    bad_sender = client.mail("not-an-address")
    client.mail(SENDER)
    bad_recipient = client.rcpt("reader@")
    client.quit()
    assert bad_sender == (553, b"<not-an-address> Invalid email address")
    assert bad_recipient == (553, b"<reader@> address unknown")


def test_an_internal_error_is_451_and_the_server_carries_on(
    server: SubmissionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = server.app.sender.send
    failed = threading.Event()

    async def failing_once(request: Any) -> str:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("disk on fire")
        return await real_send(request)

    monkeypatch.setattr(server.app.sender, "send", failing_once)
    client = authenticated(server)
    first = transaction(client, message())
    second = transaction(client, message())
    client.quit()
    assert first == (451, b"Temporary service failure")
    accepted_id(second)
