"""What one delivery attempt meant for one recipient.

The SMTP adapter only reports facts (which phase, which reply, or that the connection failed);
the functions here turn those facts into an `AttemptOutcome` in SES's vocabulary.

`kind` is the engine's verdict: `delivered`, `soft` (retry later) or `hard` (final, never
retried). `bounce_type` is SES's classification of a final failure, and SES files some final
failures under `Transient` (mailbox full, too large, content rejected, expired), so a `hard`
outcome can carry `bounce_type` `Transient`.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from sendtrail.core.delivery.classification import (
    BounceSubType,
    BounceType,
    DelayType,
    bounce_type_for_status,
    delay_type_for,
    find_status,
)

__all__ = [
    "AttemptOutcome",
    "BounceSubType",
    "BounceType",
    "DelayType",
    "OutcomeKind",
    "Phase",
    "bounce_type_for_status",
    "classify_reply",
    "connection_dropped",
    "connection_refused",
    "connection_timed_out",
    "delay_type_for",
    "dns_failure",
    "internal_failure",
    "message_too_large",
    "null_mx",
    "sending_deferral",
    "tls_handshake_failed",
    "tls_not_offered",
]


class Phase(StrEnum):
    """The SMTP step a reply answered (`data` is the DATA command, `data_end` the final dot)."""

    CONNECT = "connect"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    DATA_END = "data_end"


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    SOFT = "soft"
    HARD = "hard"


class AttemptOutcome(msgspec.Struct, frozen=True, kw_only=True):
    kind: OutcomeKind
    # None when no SMTP conversation took place (DNS, null MX, suppression, expiry).
    phase: Phase | None = None
    smtp_response: str | None = None  # delivered: the remote's final reply
    status: str | None = None  # soft and hard: enhanced status code, e.g. "5.1.1"
    diagnostic_code: str | None = None  # soft and hard: "smtp; 550 5.1.1 user unknown"
    bounce_type: BounceType | None = None  # hard only
    bounce_subtype: BounceSubType | None = None  # hard only
    delay_type: DelayType | None = None  # soft only
    # Set only when the verdict was reached without the remote MTA (e.g. "dns; amazonses.com");
    # otherwise the engine reports its own host, as SES does.
    reporting_mta: str | None = None

    @property
    def action(self) -> str:
        """The RFC 3464 `Action` value SES puts on recipients: `delivered`/`delayed`/`failed`."""
        return {
            OutcomeKind.DELIVERED: "delivered",
            OutcomeKind.SOFT: "delayed",
            OutcomeKind.HARD: "failed",
        }[self.kind]

    @property
    def last_error(self) -> str | None:
        """The error as SES quotes it inside an expiry bounce: the diagnostic minus `smtp; `."""
        if self.diagnostic_code is None:
            return None
        return self.diagnostic_code.removeprefix("smtp; ")


def reply_line(code: int, text: str) -> str:
    """A reply as SES quotes it: multi-line replies keep their `550-` continuation prefixes.

    The adapter passes the text as its SMTP library gives it (lines joined by newlines, reply
    codes stripped); SES's diagnostics show the raw lines again, e.g.
    `550-5.1.1 The email account ...\\n550 5.1.1  https://support.google.com/...`.
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip("\r\n").split("\n")]
    if lines == [""]:
        return str(code)
    *continued, last = lines
    return "\n".join([*(f"{code}-{line}" for line in continued), f"{code} {last}"])


def classify_reply(phase: Phase | str, code: int, text: str) -> AttemptOutcome:
    """The outcome of a recipient whose attempt ended with this reply at this phase.

    Only a 2xx to the final dot is a delivery; a failing reply at any phase ends the attempt.
    Every 5xx is hard and every 4xx soft, whatever the phase: the phase is recorded so the
    adapter can decide whether another MX host is worth trying (`mx.try_next_host`).
    """
    phase = Phase(phase)
    if not 200 <= code <= 599:
        raise ValueError(f"not an SMTP reply code: {code}")
    if code < 400:
        if phase is Phase.DATA_END and code < 300:
            return AttemptOutcome(
                kind=OutcomeKind.DELIVERED, phase=phase, smtp_response=reply_line(code, text)
            )
        raise ValueError(f"{code} at {phase} is not a final reply for a recipient")
    status = find_status(text, code // 100) or f"{code // 100}.0.0"
    diagnostic = f"smtp; {reply_line(code, text)}"
    if code >= 500:
        bounce_type, subtype = bounce_type_for_status(status, text, code)
        return AttemptOutcome(
            kind=OutcomeKind.HARD,
            phase=phase,
            status=status,
            diagnostic_code=diagnostic,
            bounce_type=bounce_type,
            bounce_subtype=subtype,
        )
    return AttemptOutcome(
        kind=OutcomeKind.SOFT,
        phase=phase,
        status=status,
        diagnostic_code=diagnostic,
        delay_type=delay_type_for(status, text, code),
    )


def _soft(reply: str, delay_type: DelayType, phase: Phase | None) -> AttemptOutcome:
    """A temporary failure the engine itself words (no remote reply), in SES's `421 4.x.x` form."""
    return AttemptOutcome(
        kind=OutcomeKind.SOFT,
        phase=phase,
        status=find_status(reply),
        diagnostic_code=f"smtp; {reply}",
        delay_type=delay_type,
    )


_COMMUNICATION = DelayType.TRANSIENT_COMMUNICATION_FAILURE


def connection_refused() -> AttemptOutcome:
    """The MX host refused the TCP connection (or none of its addresses was reachable)."""
    return _soft("421 4.4.1 Unable to connect to remote host", _COMMUNICATION, Phase.CONNECT)


def connection_timed_out(phase: Phase | str = Phase.CONNECT) -> AttemptOutcome:
    """No answer in time: while connecting, or from an established session at `phase`."""
    phase = Phase(phase)
    if phase is Phase.CONNECT:
        return _soft("421 4.4.1 Failed to establish connection", _COMMUNICATION, phase)
    return _soft("421 4.4.2 Timed out waiting for response from remote host", _COMMUNICATION, phase)


def connection_dropped(phase: Phase | str) -> AttemptOutcome:
    """The remote closed the connection mid-session without a final reply."""
    return _soft("421 4.4.2 Connection dropped by remote host", _COMMUNICATION, Phase(phase))


def dns_failure(domain: str) -> AttemptOutcome:
    """The recipient domain could not be resolved (NXDOMAIN, SERVFAIL, timeout).

    SES retries these for the whole window, even NXDOMAIN (a domain may be registered late or
    its DNS may be broken for a while), and quotes this text in the final expiry bounce.
    """
    return _soft(f"421 4.4.0 Unable to lookup DNS for {domain}", _COMMUNICATION, None)


def null_mx(domain: str) -> AttemptOutcome:
    """The domain publishes a null MX (RFC 7505): it accepts no mail, so fail at once."""
    return AttemptOutcome(
        kind=OutcomeKind.HARD,
        status="5.1.10",
        diagnostic_code=f"smtp; 556 5.1.10 Recipient address has null MX ({domain})",
        bounce_type=BounceType.PERMANENT,
        bounce_subtype=BounceSubType.NO_EMAIL,
    )


def tls_not_offered(host: str) -> AttemptOutcome:
    """`TlsPolicy` REQUIRE, but the host did not offer STARTTLS.

    Soft, not hard: STARTTLS can be missing for a while (certificate roll-over, one MX of
    several misconfigured) or stripped by a middlebox, and a hard bounce would put a valid
    address on the suppression list. Retrying until expiry is what Postfix does with
    `smtp_tls_security_level = encrypt`, with the same status (4.7.4).
    """
    return _soft(
        f"421 4.7.4 TLS is required, but was not offered by host {host}",
        _COMMUNICATION,
        Phase.EHLO,
    )


def tls_handshake_failed(host: str, detail: str) -> AttemptOutcome:
    """`TlsPolicy` REQUIRE, STARTTLS was offered but the handshake failed (soft, as above)."""
    return _soft(
        f"421 4.7.5 TLS handshake with host {host} failed: {detail}",
        _COMMUNICATION,
        Phase.STARTTLS,
    )


def message_too_large(size: int, limit: int, host: str) -> AttemptOutcome:
    """The host's EHLO `SIZE` limit is below the message size, so it was not sent at all."""
    return classify_reply(
        Phase.MAIL,
        552,
        f"5.3.4 Message size {size} exceeds size limit {limit} of server {host}",
    )


def internal_failure(detail: str) -> AttemptOutcome:
    """The engine itself failed during the attempt (a bug or a local resource problem)."""
    return _soft(f"451 4.3.0 Internal failure: {detail}", DelayType.INTERNAL_FAILURE, None)


def sending_deferral(detail: str) -> AttemptOutcome:
    """The engine chose to postpone the attempt (e.g. its own per-domain rate limit)."""
    return _soft(f"451 4.4.5 Sending deferred: {detail}", DelayType.SENDING_DEFERRAL, None)
