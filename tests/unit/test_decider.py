"""The decider, given past events, when a command arrives, then these events (or an error)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sendtrail.core import commands as cmd
from sendtrail.core import events as ev
from sendtrail.core.decider import MessageAlreadyExists, decide
from sendtrail.core.lifecycle import IllegalTransition, State
from sendtrail.core.state import MessageState, UnknownRecipient, fold

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MID = "0100019c8d2a6a00-6b1c4a0e-3c39-4b7e-9a43-1f2d3c4b5a69-000000"
ALICE, BOB = "alice@example.net", "bob@example.org"


def given(*events: ev.Event) -> MessageState | None:
    return fold(list(events))


def when(command: cmd.Command, state: MessageState | None, at: datetime = T0) -> list[ev.Event]:
    return decide(command, state, at)


def requested(*recipients: str) -> ev.SendRequested:
    return ev.SendRequested(
        at=T0, message_id=MID, source="sender@example.com", destinations=recipients or (ALICE,)
    )


def accepted() -> ev.SendAccepted:
    return ev.SendAccepted(at=T0, expires_at=T0 + timedelta(seconds=50_400))


def attempt(*recipients: str, at: datetime = T0) -> ev.AttemptStarted:
    return ev.AttemptStarted(
        at=at, recipients=recipients or (ALICE,), lease_until=at + timedelta(minutes=10)
    )


def delivered(recipient: str = ALICE) -> ev.RecipientDelivered:
    return ev.RecipientDelivered(at=T0, recipient=recipient, smtp_response="250 2.0.0 Ok")


def soft_failure(recipient: str = ALICE, jitter: float = 0.5) -> cmd.ReportSoftFailure:
    return cmd.ReportSoftFailure(
        message_id=MID,
        recipient=recipient,
        status="4.2.2",
        diagnostic_code="smtp; 452 4.2.2 Mailbox full",
        delay_type="MailboxFull",
        jitter=jitter,
    )


def test_given_nothing_when_a_valid_request_then_requested_and_accepted() -> None:
    events = when(
        cmd.RequestSend(message_id=MID, source="s@example.com", destinations=(ALICE, BOB)),
        given(),
    )

    assert [type(e) for e in events] == [ev.SendRequested, ev.SendAccepted]
    assert events[0].destinations == (ALICE, BOB)  # type: ignore[attr-defined]
    assert events[1].expires_at == T0 + timedelta(seconds=50_400)  # type: ignore[attr-defined]
    state = fold(events)
    assert state is not None and state.status == "accepted" and state.version == 2


def test_given_nothing_when_an_invalid_request_then_requested_and_rejected_with_the_error() -> None:
    rejection = cmd.Rejection("MessageRejected", "Email address is not verified.")
    events = when(
        cmd.RequestSend(
            message_id=MID, source="s@x.com", destinations=(ALICE,), rejection=rejection
        ),
        given(),
    )

    assert [type(e) for e in events] == [ev.SendRequested, ev.SendRejected]
    assert events[1] == ev.SendRejected(at=T0, code=rejection.code, message=rejection.message)


def test_given_a_message_when_requested_again_then_refused() -> None:
    with pytest.raises(MessageAlreadyExists):
        when(
            cmd.RequestSend(message_id=MID, source="s@x.com", destinations=(ALICE,)),
            given(requested()),
        )


def test_given_accepted_when_the_scan_finds_a_virus_then_every_recipient_is_rejected() -> None:
    state = given(requested(ALICE, BOB), accepted())

    events = when(cmd.RejectContent(message_id=MID, detail="Eicar-Test-Signature"), state)

    assert events == [
        ev.ContentRejected(at=T0, reason="Bad content", detail="Eicar-Test-Signature")
    ]
    after = fold(events, state)
    assert after is not None and after.status == "rejected"


def test_given_sending_when_delivered_then_delivered_with_the_reply() -> None:
    state = given(requested(), accepted(), attempt())

    events = when(
        cmd.ReportDelivered(
            message_id=MID,
            recipient=ALICE,
            smtp_response="250 2.6.0 Ok",
            remote_mta_ip="127.0.0.2",
            processing_ms=120,
        ),
        state,
    )

    after = fold(events, state)
    assert after is not None
    recipient = after.recipient(ALICE)
    assert recipient.status == State.DELIVERED
    assert recipient.smtp_response == "250 2.6.0 Ok" and recipient.last_status == "2.6.0"
    assert recipient.due_at is None


def test_given_sending_when_a_soft_failure_then_deferred_with_a_next_attempt_in_the_window() -> (
    None
):
    state = given(requested(), accepted(), attempt())
    now = T0 + timedelta(seconds=5)

    [event] = when(soft_failure(), state, at=now)

    assert isinstance(event, ev.RecipientDeferred)
    assert event.delay_type == "MailboxFull" and event.status == "4.2.2"
    assert now < event.next_attempt_at <= event.expires_at
    after = fold([event], state)
    assert after is not None and after.recipient(ALICE).status == State.SOFT_BOUNCED
    assert after.recipient(ALICE).due_at == event.next_attempt_at


def test_given_soft_bounced_when_the_window_closes_then_the_ses_expiry_bounce() -> None:
    state = given(requested(), accepted(), attempt())
    state = fold(when(soft_failure(), state), state)

    [event] = when(
        cmd.ExpireDelivery(
            message_id=MID, recipient=ALICE, feedback_id="f1", max_delivery_seconds=50_400
        ),
        state,
    )

    assert isinstance(event, ev.DeliveryExpired)
    assert (event.bounce_type, event.bounce_subtype, event.status) == (
        "Transient",
        "General",
        "4.4.7",
    )
    assert event.diagnostic_code == (
        "smtp; 550 4.4.7 Message expired: unable to deliver in 840 minutes.<452 4.2.2 Mailbox full>"
    )
    after = fold([event], state)
    assert after is not None and after.recipient(ALICE).status == State.HARD_BOUNCED


def test_given_accepted_when_the_recipient_is_suppressed_then_ses_suppression_bounce() -> None:
    state = given(requested(), accepted())

    [event] = when(
        cmd.SuppressRecipient(message_id=MID, recipient=ALICE, reason="BOUNCE", feedback_id="f"),
        state,
    )

    assert isinstance(event, ev.RecipientSuppressed)
    assert (event.bounce_type, event.bounce_subtype) == ("Permanent", "OnAccountSuppressionList")
    assert event.reporting_mta == "dns; amazonses.com"
    assert event.diagnostic_code.startswith("Amazon SES did not send the message to this address")


def test_given_delivered_when_an_auto_reply_then_a_complaint_then_complained() -> None:
    state = given(requested(), accepted(), attempt(), delivered())

    state = fold(
        when(cmd.ReportAutoReply(message_id=MID, recipient=ALICE, feedback_id="a"), state), state
    )
    state = fold(
        when(
            cmd.ReportComplaint(
                message_id=MID, recipient=ALICE, feedback_id="c", feedback_type="abuse"
            ),
            state,
        ),
        state,
    )

    assert state is not None and state.recipient(ALICE).status == State.COMPLAINED


def test_given_a_hard_bounce_when_a_complaint_arrives_then_illegal_and_nothing_decided() -> None:
    state = given(
        requested(),
        accepted(),
        attempt(),
        ev.RecipientBounced(
            at=T0,
            recipient=ALICE,
            bounce_type="Permanent",
            bounce_subtype="NoEmail",
            feedback_id="b",
        ),
    )

    with pytest.raises(IllegalTransition) as error:
        when(cmd.ReportComplaint(message_id=MID, recipient=ALICE, feedback_id="c"), state)

    assert "hard-bounced" in str(error.value) and "ComplaintReported" in str(error.value)


def test_given_accepted_when_delivery_is_reported_without_an_attempt_then_illegal() -> None:
    with pytest.raises(IllegalTransition, match="accepted"):
        when(
            cmd.ReportDelivered(message_id=MID, recipient=ALICE, smtp_response="250 ok"),
            given(requested(), accepted()),
        )


def test_a_command_for_an_unknown_recipient_names_it() -> None:
    with pytest.raises(UnknownRecipient, match=r"mallory@example\.com"):
        when(
            cmd.StartAttempt(message_id=MID, recipients=("mallory@example.com",)),
            given(requested(), accepted()),
        )


def test_recipients_move_independently_and_the_message_view_is_derived() -> None:
    state = given(requested(ALICE, BOB), accepted(), attempt(ALICE, BOB), delivered(ALICE))

    assert state is not None
    assert state.recipient(ALICE).status == State.DELIVERED
    assert state.recipient(BOB).status == State.SENDING
    assert state.status == "partial"
    assert state.counts() == {"delivered": 1, "sending": 1}


def test_a_lost_attempt_restarts_from_sending_and_counts_again() -> None:
    state = given(requested(), accepted(), attempt())
    later = T0 + timedelta(minutes=11)

    state = fold(when(cmd.StartAttempt(message_id=MID, recipients=(ALICE,)), state, later), state)

    assert state is not None
    assert state.recipient(ALICE).attempts == 2
    assert state.recipient(ALICE).first_attempt_at == T0


LISTING = cmd.SuppressionPolicy(reasons=("BOUNCE", "COMPLAINT"))


@pytest.mark.parametrize(
    ("bounce_type", "policy", "expected"),
    [
        ("Permanent", LISTING, "BOUNCE"),
        ("Transient", LISTING, None),
        ("Permanent", cmd.SuppressionPolicy(reasons=("COMPLAINT",)), None),
        ("Permanent", cmd.SuppressionPolicy(reasons=("BOUNCE",), simulator=True), None),
    ],
)
def test_a_hard_failure_lists_the_address_only_when_permanent_and_bounces_are_suppressed(
    bounce_type: str, policy: cmd.SuppressionPolicy, expected: str | None
) -> None:
    state = given(requested(), accepted(), attempt())

    [event] = when(
        cmd.ReportHardFailure(
            message_id=MID,
            recipient=ALICE,
            bounce_type=bounce_type,
            bounce_subtype="General",
            status="5.1.1",
            diagnostic_code="smtp; 550 5.1.1 user unknown",
            feedback_id="f",
            suppression=policy,
        ),
        state,
    )

    assert isinstance(event, ev.RecipientBounced)
    assert event.suppression_reason == expected


def test_a_complaint_lists_the_address_when_complaints_are_suppressed() -> None:
    state = given(requested(), accepted(), attempt(), delivered())

    [event] = when(
        cmd.ReportComplaint(message_id=MID, recipient=ALICE, feedback_id="c", suppression=LISTING),
        state,
    )

    assert isinstance(event, ev.ComplaintReported) and event.suppression_reason == "COMPLAINT"
