"""RFC 3834 auto-replies, and why an auto-reply is never mistaken for a bounce (or back)."""

from __future__ import annotations

import pytest

from sendtrail.core.feedback import classify


def _reply(headers: str, subject: str, body: str = "Thanks for your message.") -> bytes:
    return (
        f"From: Person <person@example.net>\nTo: us@sender.example\nSubject: {subject}\n"
        f"In-Reply-To: <sent-9@sender.example>\nReferences: <sent-9@sender.example>\n"
        f"{headers}\n{body}\n"
    ).encode()


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-replied (vacation)",
        "X-Autoreply: yes",
        "X-Autorespond: Out of office",
        "Precedence: auto_reply",
    ],
)
def test_autoresponder_headers(header: str) -> None:
    report = classify(_reply(header + "\n", "Re: hello"))
    assert report.kind == "autoreply"
    assert [v.recipient for v in report.recipients] == ["person@example.net"]
    assert report.recipients[0].bounce_type is None
    assert report.original_message_id == "<sent-9@sender.example>"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: hello",
        "Automatic reply: hello",
        "Auto-Reply: hello",
        "Abwesenheitsnotiz: hello",
        "Automatische Antwort: hello",
        "Réponse automatique : hello",
        "Respuesta automática: hello",
        "Automatisch antwoord: hello",
        "Risposta automatica: hello",
        "Resposta automática: hello",
        "自動応答: hello",
        "Away until May 5",
    ],
)
def test_out_of_office_subjects_in_several_languages(subject: str) -> None:
    assert classify(_reply("", subject)).kind == "autoreply"


def test_outlook_suppress_header_needs_out_of_office_wording() -> None:
    header = "X-Auto-Response-Suppress: All\n"
    assert classify(_reply(header, "Re: hello", "I am out of the office.")).kind == "autoreply"
    assert classify(_reply(header, "Re: hello", "See the attached file.")).kind == "unknown"


def test_a_bounce_marked_auto_replied_is_still_a_bounce() -> None:
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: us@sender.example\n"
        b"Subject: Mail delivery failed: returning message to sender\n"
        b"Auto-Submitted: auto-replied\n\n"
        b"A message that you sent could not be delivered to one or more of its\n"
        b"recipients. This is a permanent error. The following address(es) failed:\n\n"
        b"  gone@example.net\n    550 5.1.1 User unknown\n"
    )
    report = classify(raw)
    assert report.kind == "bounce"
    assert report.recipients[0].status == "5.1.1"


def test_an_ordinary_message_is_unknown() -> None:
    raw = b"From: friend@example.net\nTo: us@sender.example\nSubject: lunch?\n\nsee you\n"
    assert classify(raw).kind == "unknown"


def test_an_out_of_office_answering_a_bounce_is_an_autoreply() -> None:
    raw = _reply("", "Automatic reply: Undeliverable: hello", "I am out of the office.")
    assert classify(raw).kind == "autoreply"


def test_a_bounce_of_an_out_of_office_is_a_bounce() -> None:
    raw = (
        b"From: postmaster@corp.example.org\nSubject: Undeliverable: Automatic reply: hi\n\n"
        b"Delivery has failed to these recipients or groups:\n\nx@example.net\n"
        b"Remote Server returned '550 5.1.1 not found'\n"
    )
    report = classify(raw)
    assert (report.kind, report.recipients[0].status) == ("bounce", "5.1.1")
