"""The account-level suppression list's rules: what gets added, and what a suppressed send yields.

Which reasons apply is the account's `SuppressedReasons`, unless the configuration set used for
the send overrides it (`SuppressionOptions.SuppressedReasons`): no override → the account's
reasons; an override with no reasons → no suppression at all; an override with reasons → only
those. The same effective reasons decide both which feedback adds an address and which listed
addresses a send skips.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum

from sendtrail.core.delivery.classification import BounceSubType, BounceType
from sendtrail.core.delivery.outcomes import AttemptOutcome, OutcomeKind


class SuppressionReason(StrEnum):
    BOUNCE = "BOUNCE"
    COMPLAINT = "COMPLAINT"


SUPPRESSION_REPORTING_MTA = "dns; amazonses.com"
SUPPRESSED_STATUS = "5.1.1"
# Both texts copied from real SES output; the global one really ends with a space.
ACCOUNT_SUPPRESSED_DIAGNOSTIC = (
    "Amazon SES did not send the message to this address because it is on the suppression list "
    "for your account. For more information about removing addresses from the suppression list, "
    "see the Amazon SES Developer Guide at "
    "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"
)
GLOBAL_SUPPRESSED_DIAGNOSTIC = (
    "Amazon SES has suppressed sending to this address because it has a recent history of "
    "bouncing as an invalid address. For more information about how to remove an address from "
    "the suppression list, see the Amazon SES Developer Guide: "
    "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html "
)
# Keyed by the subtypes of bounces SES makes itself because the address was already suppressed:
# those must not (re-)add the address, it never reached a receiving server.
_DIAGNOSTICS = {
    BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST: ACCOUNT_SUPPRESSED_DIAGNOSTIC,
    BounceSubType.SUPPRESSED: GLOBAL_SUPPRESSED_DIAGNOSTIC,
}


def effective_reasons(
    account_reasons: Iterable[str], config_set_reasons: Iterable[str] | None = None
) -> frozenset[SuppressionReason]:
    """The reasons in force for one send; `config_set_reasons` is None when not overriding."""
    chosen = account_reasons if config_set_reasons is None else config_set_reasons
    return frozenset(SuppressionReason(reason) for reason in chosen)


def reason_to_add_for_bounce(
    bounce_type: str,
    bounce_subtype: str,
    reasons: Collection[str],
    *,
    simulator: bool = False,
) -> SuppressionReason | None:
    """The reason to list the bounced address under, or None to leave the list alone.

    Only `Permanent` bounces count: `Transient` ones (expiry after soft bounces, mailbox full,
    content rejections, auto-replies) and `Undetermined` ones say nothing final about the
    address. Mailbox simulator addresses are never added (SES documents this for `bounce@`).
    """
    if simulator or SuppressionReason.BOUNCE not in reasons:
        return None
    if bounce_type != BounceType.PERMANENT or bounce_subtype in _DIAGNOSTICS:
        return None
    return SuppressionReason.BOUNCE


def reason_to_add_for_complaint(
    complaint_subtype: str | None,
    reasons: Collection[str],
    *,
    simulator: bool = False,
) -> SuppressionReason | None:
    """The reason to list the complaining address under, or None to leave the list alone."""
    if simulator or SuppressionReason.COMPLAINT not in reasons:
        return None
    if complaint_subtype == BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST:  # same spelling in SES
        return None
    return SuppressionReason.COMPLAINT


def is_send_suppressed(listed_reason: str | None, reasons: Collection[str]) -> bool:
    """Whether a send skips an address listed for `listed_reason` (None: not listed)."""
    return listed_reason is not None and listed_reason in reasons


def suppressed_bounce(
    bounce_subtype: str = BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST,
) -> AttemptOutcome:
    """The bounce SES produces instead of a delivery attempt to a suppressed address.

    `OnAccountSuppressionList` for the account-level list (it does not count toward the bounce
    rate); `Suppressed` for SES's global list, which sendtrail only meets through the mailbox
    simulator's `suppressionlist` address.
    """
    subtype = BounceSubType(bounce_subtype)
    if subtype not in _DIAGNOSTICS:
        raise ValueError(f"not a suppression bounce subtype: {bounce_subtype}")
    return AttemptOutcome(
        kind=OutcomeKind.HARD,
        status=SUPPRESSED_STATUS,
        diagnostic_code=_DIAGNOSTICS[subtype],
        bounce_type=BounceType.PERMANENT,
        bounce_subtype=subtype,
        reporting_mta=SUPPRESSION_REPORTING_MTA,
    )
