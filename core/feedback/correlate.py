"""Which message and which recipients a feedback report is about (pure).

The VERP envelope recipient names the message first (every outgoing message's envelope sender
is ``<message-id>@<feedback domain>``); failing that, the original ``Message-ID`` or
``References`` quoted in the report (SES-style ``<message-id@domain>``). Recipients come from
the report's own recipient fields, matched against the message's recipients. A complaint that
redacts the complainer names, as SES does, the message's recipients at the domain of the
provider that reported it, or all of them when that cannot be narrowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from sendtrail.core.ids import is_message_id

from .model import KIND_COMPLAINT, FeedbackReport, RecipientVerdict


class Correlation(msgspec.Struct, frozen=True):
    message_id: str | None
    recipients: tuple[tuple[str, RecipientVerdict], ...] = ()  # (our recipient, what it says)
    reason: str | None = None  # why nothing could be tied, when nothing could


def message_id_from_addresses(addresses: Iterable[str], feedback_domain: str) -> str | None:
    """The message id in a VERP address of the feedback domain."""
    domain = feedback_domain.lower()
    for address in addresses:
        local, at, host = address.strip().strip("<>").rpartition("@")
        if at and host.lower() == domain and is_message_id(local.lower()):
            return local.lower()
    return None


def message_id_from_report(report: FeedbackReport) -> str | None:
    """Our id in the original's ``Message-ID`` (``<id@region.amazonses.com>``) or References."""
    for value in (report.original_message_id, *report.original_references):
        if not value:
            continue
        local = value.strip().strip("<>").partition("@")[0].lower()
        if is_message_id(local):
            return local
    return None


def correlate(
    report: FeedbackReport,
    envelope_recipients: Sequence[str],
    feedback_domain: str,
    recipients_of: dict[str, tuple[str, ...]],
) -> Correlation:
    """Tie ``report`` to a message; ``recipients_of`` maps known message ids to recipients."""
    message_id = message_id_from_addresses(envelope_recipients, feedback_domain)
    if message_id is None or message_id not in recipients_of:
        message_id = message_id_from_report(report)
    if message_id is None:
        return Correlation(None, reason="no VERP address or original Message-ID of ours")
    ours = recipients_of.get(message_id)
    if ours is None:
        return Correlation(None, reason=f"message {message_id} is unknown")
    by_address = {address.lower(): address for address in ours}
    matched = [
        (by_address[verdict.recipient.lower()], verdict)
        for verdict in report.recipients
        if verdict.recipient and verdict.recipient.lower() in by_address
    ]
    if matched:
        return Correlation(message_id, tuple(matched))
    quoted = [by_address[a.lower()] for a in report.original_recipients if a.lower() in by_address]
    template = report.recipients[0] if report.recipients else RecipientVerdict(recipient=None)
    if report.kind == KIND_COMPLAINT:
        candidates = quoted or _at_domain(ours, report.reporting_domain) or list(ours)
    else:
        candidates = quoted or (list(ours) if len(ours) == 1 else [])
    if not candidates:
        return Correlation(message_id, reason="the report names none of the message's recipients")
    return Correlation(message_id, tuple((address, template) for address in candidates))


def _at_domain(recipients: Sequence[str], domain: str | None) -> list[str]:
    if not domain:
        return []
    wanted = domain.lower()
    return [
        address
        for address in recipients
        if (host := address.rpartition("@")[2].lower()) == wanted
        or host.endswith("." + wanted)
        or wanted.endswith("." + host)
    ]
