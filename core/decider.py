"""``decide(command, state, now) -> events``: what the engine concludes from a command.

Pure: the clock reading, ids and random draws arrive as arguments. Every event decided is
folded through ``evolve`` before it is returned, so an illegal move raises
``IllegalTransition`` here and never reaches the log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import commands as cmd
from . import events as ev
from .delivery import retry, suppression
from .state import MessageState, evolve


class MessageAlreadyExists(ValueError):
    pass


def decide(command: cmd.Command, state: MessageState | None, now: datetime) -> list[ev.Event]:
    events = _decide(command, state, now)
    for event in events:
        state = evolve(state, event)
    return events


def _decide(command: cmd.Command, state: MessageState | None, now: datetime) -> list[ev.Event]:
    if isinstance(command, cmd.RequestSend):
        if state is not None:
            raise MessageAlreadyExists(command.message_id)
        return _request(command, now)
    match command:
        case cmd.PrepareMessage():
            return [
                ev.MessagePrepared(
                    at=now,
                    content_sha256=command.content_sha256,
                    header_message_id=command.header_message_id,
                )
            ]
        case cmd.RejectContent():
            return [ev.ContentRejected(at=now, detail=command.detail)]
        case cmd.FailRendering():
            return [
                ev.RenderingFailed(
                    at=now,
                    template_name=command.template_name,
                    error_message=command.error_message,
                )
            ]
        case cmd.SuppressRecipient():
            bounce = suppression.suppressed_bounce(command.bounce_subtype)
            return [
                ev.RecipientSuppressed(
                    at=now,
                    recipient=command.recipient,
                    reason=command.reason,
                    bounce_type=str(bounce.bounce_type),
                    bounce_subtype=str(bounce.bounce_subtype),
                    status=bounce.status or "5.1.1",
                    diagnostic_code=bounce.diagnostic_code or "",
                    reporting_mta=bounce.reporting_mta or "dns; amazonses.com",
                    feedback_id=command.feedback_id,
                )
            ]
        case cmd.StartAttempt():
            return [
                ev.AttemptStarted(
                    at=now,
                    recipients=command.recipients,
                    lease_until=now + timedelta(seconds=command.lease_seconds),
                )
            ]
        case cmd.ReportDelivered():
            return [
                ev.RecipientDelivered(
                    at=now,
                    recipient=command.recipient,
                    smtp_response=command.smtp_response,
                    remote_mta_ip=command.remote_mta_ip,
                    reporting_mta=command.reporting_mta,
                    processing_ms=command.processing_ms,
                )
            ]
        case cmd.ReportSoftFailure():
            return [_deferral(command, _existing(state, command), now)]
        case cmd.ReportHardFailure():
            return [
                ev.RecipientBounced(
                    at=now,
                    recipient=command.recipient,
                    bounce_type=command.bounce_type,
                    bounce_subtype=command.bounce_subtype,
                    status=command.status,
                    diagnostic_code=command.diagnostic_code,
                    remote_mta_ip=command.remote_mta_ip,
                    reporting_mta=command.reporting_mta,
                    feedback_id=command.feedback_id,
                    suppression_reason=_bounce_listing(
                        command.bounce_type, command.bounce_subtype, command.suppression
                    ),
                    simulated=command.suppression.simulator,
                )
            ]
        case cmd.ExpireDelivery():
            return [_expiry(command, _existing(state, command), now)]
        case cmd.ReportBounce():
            return [
                ev.BounceReported(
                    at=now,
                    recipient=command.recipient,
                    bounce_type=command.bounce_type,
                    bounce_subtype=command.bounce_subtype,
                    action=command.action,
                    status=command.status,
                    diagnostic_code=command.diagnostic_code,
                    reporting_mta=command.reporting_mta,
                    remote_mta_ip=command.remote_mta_ip,
                    feedback_id=command.feedback_id,
                    suppression_reason=_bounce_listing(
                        command.bounce_type, command.bounce_subtype, command.suppression
                    ),
                    simulated=command.suppression.simulator,
                )
            ]
        case cmd.ReportComplaint():
            return [
                ev.ComplaintReported(
                    at=now,
                    recipient=command.recipient,
                    feedback_id=command.feedback_id,
                    feedback_type=command.feedback_type,
                    user_agent=command.user_agent,
                    arrival_date=command.arrival_date,
                    suppression_reason=suppression.reason_to_add_for_complaint(
                        None, command.suppression.reasons, simulator=command.suppression.simulator
                    ),
                    simulated=command.suppression.simulator,
                )
            ]
        case cmd.ReportAutoReply():
            return [
                ev.AutoReplyReported(
                    at=now,
                    recipient=command.recipient,
                    feedback_id=command.feedback_id,
                    subject=command.subject,
                )
            ]
    raise TypeError(f"decide does not know {type(command).__name__}")


def _request(command: cmd.RequestSend, now: datetime) -> list[ev.Event]:
    requested = ev.SendRequested(
        at=now,
        message_id=command.message_id,
        source=command.source,
        destinations=command.destinations,
        operation=command.operation,
        content_sha256=command.content_sha256,
        configuration_set=command.configuration_set,
        tags=command.tags,
        feedback_address=command.feedback_address,
        caller=command.caller,
        source_ip=command.source_ip,
    )
    if command.rejection is not None:
        return [
            requested,
            ev.SendRejected(at=now, code=command.rejection.code, message=command.rejection.message),
        ]
    expires_at = retry.expires_at(now, command.max_delivery_seconds)
    accepted = ev.SendAccepted(
        at=now,
        expires_at=expires_at,
        recipients=len(command.destinations),
        quota_recipients=command.quota_recipients,
    )
    return [requested, accepted]


def _bounce_listing(
    bounce_type: str, bounce_subtype: str, policy: cmd.SuppressionPolicy
) -> str | None:
    reason = suppression.reason_to_add_for_bounce(
        bounce_type, bounce_subtype, policy.reasons, simulator=policy.simulator
    )
    return None if reason is None else str(reason)


def _existing(state: MessageState | None, command: cmd.Command) -> MessageState:
    if state is None:
        raise LookupError(f"no message {command.message_id}")
    return state


def _deferral(
    command: cmd.ReportSoftFailure, state: MessageState, now: datetime
) -> ev.RecipientDeferred:
    recipient = state.recipient(command.recipient)
    expires_at = recipient.expires_at or state.expires_at or now
    next_attempt = retry.next_attempt_at(
        recipient.first_attempt_at or now,
        max(recipient.attempts, 1),
        now,
        command.jitter,
        expires_at=expires_at,
    )
    return ev.RecipientDeferred(
        at=now,
        recipient=command.recipient,
        status=command.status,
        diagnostic_code=command.diagnostic_code,
        delay_type=command.delay_type,
        next_attempt_at=next_attempt,
        expires_at=expires_at,
        remote_mta_ip=command.remote_mta_ip,
        reporting_mta=command.reporting_mta,
    )


def _expiry(command: cmd.ExpireDelivery, state: MessageState, now: datetime) -> ev.DeliveryExpired:
    recipient = state.recipient(command.recipient)
    outcome = retry.expiry_outcome(command.max_delivery_seconds, recipient.last_diagnostic)
    return ev.DeliveryExpired(
        at=now,
        recipient=command.recipient,
        bounce_type=str(outcome.bounce_type),
        bounce_subtype=str(outcome.bounce_subtype),
        action="failed",
        status=outcome.status,
        diagnostic_code=outcome.diagnostic_code,
        reporting_mta=command.reporting_mta,
        feedback_id=command.feedback_id,
    )
