"""After acceptance: render, assemble, sign, scan, suppress; each step an event."""

from __future__ import annotations

import asyncio
import base64
import email
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dkim
import msgspec
import pytest

from sendtrail.adapters.app import App
from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.config import Settings
from sendtrail.adapters.preparation import Preparer
from sendtrail.adapters.scanners import EicarScanner
from sendtrail.core import events as ev
from sendtrail.core import resources as res
from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.requests import (
    Attachment,
    Destination,
    RawContent,
    SendRequest,
    SimpleContent,
    TemplateContent,
)
from sendtrail.core.lifecycle import State

T0 = datetime(2026, 1, 5, 9, 30, 7, tzinfo=UTC)
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = msgspec.convert({"identities": {"verified": ["example.com"]}}, Settings)
    instance = App(settings, tmp_path, clock=ManualClock(T0), durable=False)
    yield instance
    instance.close()


def send(app: App, request: SendRequest) -> str:
    return asyncio.run(app.sender.send(request))


def prepare(app: App, message_id: str) -> None:
    asyncio.run(Preparer(app, EicarScanner()).prepare(message_id))


def simple(to: tuple[str, ...] = ("reader@example.net",), **content: object) -> SendRequest:
    fields = {"subject": "Hello", "text": "Hi there", **content}
    return SendRequest(
        surface=Surface.V2_API,
        operation="SendEmail",
        source="News <news@example.com>",
        destination=Destination(to=to, bcc=("hidden@example.org",)),
        content=SimpleContent(**fields),  # type: ignore[arg-type]
    )


def outgoing(app: App, message_id: str) -> bytes:
    state = app.engine.state(message_id)
    assert state is not None and state.outgoing_sha256 is not None
    data = app.engine.store.get_content(state.outgoing_sha256)
    assert data is not None
    return data


def events(app: App, message_id: str) -> list[type]:
    return [type(stored.event) for stored in app.engine.store.read_stream(message_id)]


def test_a_simple_send_is_assembled_with_ses_message_id_and_date_and_no_bcc(app: App) -> None:
    message_id = send(app, simple())
    prepare(app, message_id)

    message = email.message_from_bytes(outgoing(app, message_id))
    assert message["Message-ID"] == f"<{message_id}@email.amazonses.com>"
    assert message["Date"] == "Mon, 5 Jan 2026 09:30:07 +0000"
    assert message["From"] == "News <news@example.com>"
    assert message["To"] == "reader@example.net"
    assert message["Bcc"] is None
    assert events(app, message_id)[-1] is ev.MessagePrepared


def test_preparing_twice_changes_nothing_the_second_time(app: App) -> None:
    message_id = send(app, simple())
    prepare(app, message_id)
    prepare(app, message_id)
    assert events(app, message_id).count(ev.MessagePrepared) == 1


def test_raw_messages_lose_their_x_ses_headers_and_keep_their_body(app: App) -> None:
    app.registry.save(res.ConfigurationSet(name="Main", created_at=T0), at=T0, actor=None)
    raw = (
        b"From: news@example.com\r\nTo: reader@example.net\r\nSubject: hi\r\n"
        b"Message-ID: <client@example.com>\r\nX-SES-CONFIGURATION-SET: Main\r\n"
        b"X-SES-MESSAGE-TAGS: a=b\r\n\r\nbody stays as it is\r\n"
    )
    message_id = send(
        app,
        SendRequest(surface=Surface.SMTP, operation="SendRawEmail", content=RawContent(data=raw)),
    )
    prepare(app, message_id)

    data = outgoing(app, message_id)
    assert b"X-SES-" not in data
    assert data.endswith(b"\r\n\r\nbody stays as it is\r\n")
    assert f"<{message_id}@email.amazonses.com>".encode() in data


def test_mail_from_a_domain_with_easy_dkim_is_signed_verifiably(app: App) -> None:
    identity = app.account.create_identity("signed.example", actor="test")
    app.account.update_identity("signed.example", actor="test", verification_status=res.SUCCESS)
    assert identity.dkim is not None
    request = SendRequest(
        surface=Surface.V2_API, operation="SendEmail", source="hello@signed.example",
        destination=Destination(to=("reader@example.net",)),
        content=SimpleContent(subject="Signed", text="Check my signature."),
    )  # fmt: skip
    message_id = send(app, request)
    prepare(app, message_id)
    data = outgoing(app, message_id)
    record = f"v=DKIM1; k=rsa; p={identity.dkim.public_key}".encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{identity.dkim.selector}._domainkey.signed.example.".encode()  # type: ignore[union-attr]
        return record

    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(
        data.replace(b"Check my signature.", b"Check my signature!"), dnsfunc=dns
    )
    assert base64.b64decode(identity.dkim.public_key)


def test_an_infected_attachment_is_rejected_and_never_delivered(app: App) -> None:
    message_id = send(
        app,
        simple(attachments=(Attachment(raw_content=EICAR, file_name="eicar.txt"),)),
    )
    prepare(app, message_id)

    state = app.engine.state(message_id)
    assert state is not None and state.status == "rejected" and state.outgoing_sha256 is None
    [rejected] = [s.event for s in app.engine.store.read_stream(message_id)
                  if isinstance(s.event, ev.ContentRejected)]  # fmt: skip
    assert rejected.reason == "Bad content"


def test_a_template_missing_an_attribute_fails_rendering_after_acceptance(app: App) -> None:
    app.registry.save(
        res.Template(name="Welcome", created_at=T0, subject="Hi {{name}}", text="{{plan}}"),
        at=T0,
        actor=None,
    )
    request = SendRequest(
        surface=Surface.V2_API, operation="SendTemplatedEmail", source="news@example.com",
        destination=Destination(to=("reader@example.net",)),
        content=TemplateContent(template_name="Welcome", template_data='{"name": "Ann"}'),
    )  # fmt: skip
    message_id = send(app, request)
    prepare(app, message_id)

    [failed] = [s.event for s in app.engine.store.read_stream(message_id)
                if isinstance(s.event, ev.RenderingFailed)]  # fmt: skip
    assert failed.template_name == "Welcome"
    assert failed.error_message == "Attribute 'plan' is not present in the rendering data."
    state = app.engine.state(message_id)
    assert state is not None and state.status == "rejected"


def test_a_template_that_renders_is_built_from_its_parts(app: App) -> None:
    app.registry.save(
        res.Template(name="Hi", created_at=T0, subject="Hi {{name}}", text="Welcome, {{name}}."),
        at=T0,
        actor=None,
    )
    request = SendRequest(
        surface=Surface.V2_API, operation="SendTemplatedEmail", source="news@example.com",
        destination=Destination(to=("reader@example.net",)),
        content=TemplateContent(template_name="Hi", template_data='{"name": "Ann"}'),
    )  # fmt: skip
    message_id = send(app, request)
    prepare(app, message_id)

    message = email.message_from_bytes(outgoing(app, message_id))
    assert message["Subject"] == "Hi Ann"
    assert "Welcome, Ann." in message.get_payload(decode=True).decode()  # type: ignore[union-attr]


def test_suppressed_recipients_bounce_without_an_attempt(app: App) -> None:
    app.suppression.put("listed@example.net", "BOUNCE", actor="test")
    message_id = send(
        app,
        simple(
            to=("listed@example.net", "suppressionlist@simulator.amazonses.com", "ok@example.net")
        ),
    )
    prepare(app, message_id)

    state = app.engine.state(message_id)
    assert state is not None
    listed = state.recipient("listed@example.net")
    simulated = state.recipient("suppressionlist@simulator.amazonses.com")
    assert (listed.status, listed.bounce_subtype) == (
        State.HARD_BOUNCED,
        "OnAccountSuppressionList",
    )
    assert (simulated.status, simulated.bounce_subtype) == (State.HARD_BOUNCED, "Suppressed")
    assert state.recipient("ok@example.net").status == State.ACCEPTED
    assert state.outgoing_sha256 is not None
