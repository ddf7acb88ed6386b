"""What an SMTP/DSN status means in SES's terms: the one table both delivery and feedback use.

An enhanced status code (RFC 3463) plus the server's wording is reduced to a `Reason`; the reason
then decides the SES `bounceType`/`bounceSubType` (for a final failure) and the `delayType` (for a
temporary one). Keeping the reason as the middle step means the SMTP client (`outcomes`) and the
DSN parser (`core/feedback`) cannot drift apart: both call `bounce_type_for_status` and
`delay_type_for`.
"""

from __future__ import annotations

import re
from enum import StrEnum

import msgspec


class BounceType(StrEnum):
    PERMANENT = "Permanent"
    TRANSIENT = "Transient"
    UNDETERMINED = "Undetermined"


class BounceSubType(StrEnum):
    GENERAL = "General"
    NO_EMAIL = "NoEmail"
    SUPPRESSED = "Suppressed"
    ON_ACCOUNT_SUPPRESSION_LIST = "OnAccountSuppressionList"
    MAILBOX_FULL = "MailboxFull"
    MESSAGE_TOO_LARGE = "MessageTooLarge"
    CONTENT_REJECTED = "ContentRejected"
    ATTACHMENT_REJECTED = "AttachmentRejected"
    UNDETERMINED = "Undetermined"


class DelayType(StrEnum):
    INTERNAL_FAILURE = "InternalFailure"
    GENERAL = "General"
    MAILBOX_FULL = "MailboxFull"
    SPAM_DETECTED = "SpamDetected"
    RECIPIENT_SERVER_ERROR = "RecipientServerError"
    IP_FAILURE = "IPFailure"
    TRANSIENT_COMMUNICATION_FAILURE = "TransientCommunicationFailure"
    # Listed for completeness (SES's enum has it); sendtrail has no BYOIP, so never produced.
    BYOIP_HOST_NAME_LOOKUP_UNAVAILABLE = "BYOIPHostNameLookupUnavailable"
    UNDETERMINED = "Undetermined"
    SENDING_DEFERRAL = "SendingDeferral"


class Reason(StrEnum):
    """Why a recipient failed, before it is spelt in SES's vocabulary."""

    NO_RECIPIENT = "no_recipient"
    MAILBOX_FULL = "mailbox_full"
    TOO_LARGE = "too_large"
    ATTACHMENT = "attachment"
    SPAM = "spam"
    CONTENT = "content"
    SENDER_BLOCKED = "sender_blocked"
    SENDER_AUTH = "sender_auth"
    EXPIRED = "expired"
    REMOTE_SERVER = "remote_server"
    NETWORK = "network"
    OTHER = "other"
    UNDETERMINED = "undetermined"


class Rule(msgspec.Struct, frozen=True):
    """One row of the table: the SES names a reason turns into."""

    permanent: tuple[BounceType, BounceSubType]  # final failure with a 5.x.x status
    transient: tuple[BounceType, BounceSubType]  # final failure with a 4.x.x status
    delay: DelayType  # temporary failure, retried


_P, _T, _U = BounceType.PERMANENT, BounceType.TRANSIENT, BounceType.UNDETERMINED
_S = BounceSubType

# THE table. SES files mailbox-full, too-large and content rejections under `Transient` even when
# the remote said 5xx (bounce table in SES's docs), so those rows are Transient in both columns.
# Rejections aimed at the *sender* (blocklisted IP, failed SPF/DKIM/DMARC) are Transient too: a
# Permanent bounce would put a perfectly valid recipient on the suppression list.
RULES: dict[Reason, Rule] = {
    # SES's own payloads file "550 5.1.1 user unknown" under Permanent/General (the DG's bounce
    # example, the mailbox simulator, real Gmail bounces), so a missing mailbox is General here
    # too; NoEmail is kept for a domain that publishes a null MX (outcomes.null_mx).
    Reason.NO_RECIPIENT: Rule((_P, _S.GENERAL), (_T, _S.GENERAL), DelayType.GENERAL),
    Reason.MAILBOX_FULL: Rule((_T, _S.MAILBOX_FULL), (_T, _S.MAILBOX_FULL), DelayType.MAILBOX_FULL),
    Reason.TOO_LARGE: Rule(
        (_T, _S.MESSAGE_TOO_LARGE), (_T, _S.MESSAGE_TOO_LARGE), DelayType.GENERAL
    ),
    Reason.ATTACHMENT: Rule(
        (_T, _S.ATTACHMENT_REJECTED), (_T, _S.ATTACHMENT_REJECTED), DelayType.GENERAL
    ),
    Reason.SPAM: Rule(
        (_T, _S.CONTENT_REJECTED), (_T, _S.CONTENT_REJECTED), DelayType.SPAM_DETECTED
    ),
    Reason.CONTENT: Rule((_T, _S.CONTENT_REJECTED), (_T, _S.CONTENT_REJECTED), DelayType.GENERAL),
    Reason.SENDER_BLOCKED: Rule((_T, _S.GENERAL), (_T, _S.GENERAL), DelayType.IP_FAILURE),
    Reason.SENDER_AUTH: Rule((_T, _S.GENERAL), (_T, _S.GENERAL), DelayType.GENERAL),
    # Expiry is a soft failure that ran out of time (SES: `550 4.4.7 ... expired` is Transient).
    Reason.EXPIRED: Rule(
        (_T, _S.GENERAL), (_T, _S.GENERAL), DelayType.TRANSIENT_COMMUNICATION_FAILURE
    ),
    Reason.REMOTE_SERVER: Rule(
        (_P, _S.GENERAL), (_T, _S.GENERAL), DelayType.RECIPIENT_SERVER_ERROR
    ),
    Reason.NETWORK: Rule(
        (_P, _S.GENERAL), (_T, _S.GENERAL), DelayType.TRANSIENT_COMMUNICATION_FAILURE
    ),
    Reason.OTHER: Rule((_P, _S.GENERAL), (_T, _S.GENERAL), DelayType.GENERAL),
    Reason.UNDETERMINED: Rule((_U, _S.UNDETERMINED), (_U, _S.UNDETERMINED), DelayType.UNDETERMINED),
}

# Statuses precise enough to trust over the wording, keyed by (subject, detail) of X.subject.detail.
_BY_STATUS: dict[tuple[int, int], Reason] = {
    (1, 0): Reason.NO_RECIPIENT,  # other address status
    (1, 1): Reason.NO_RECIPIENT,  # bad destination mailbox address
    (1, 2): Reason.NO_RECIPIENT,  # bad destination system address
    (1, 6): Reason.NO_RECIPIENT,  # mailbox has moved, no forwarding address
    (1, 10): Reason.NO_RECIPIENT,  # recipient address has null MX (RFC 7505)
    (2, 2): Reason.MAILBOX_FULL,
    (2, 3): Reason.TOO_LARGE,  # message length exceeds administrative limit
    (3, 4): Reason.TOO_LARGE,  # message too big for system
    (3, 1): Reason.REMOTE_SERVER,  # mail system full
    (3, 2): Reason.REMOTE_SERVER,  # system not accepting network messages
    (4, 5): Reason.REMOTE_SERVER,  # system congestion
    (4, 7): Reason.EXPIRED,  # delivery time expired
}

# When neither the status nor the wording is specific: by status subject, then by reply code.
_BY_SUBJECT: dict[int, Reason] = {
    3: Reason.REMOTE_SERVER,
    4: Reason.NETWORK,
    6: Reason.CONTENT,  # media / content conversion
}
_BY_REPLY_CODE: dict[int, Reason] = {
    421: Reason.REMOTE_SERVER,  # service not available, closing channel
    451: Reason.REMOTE_SERVER,  # local error in processing
    452: Reason.REMOTE_SERVER,  # insufficient system storage
    552: Reason.MAILBOX_FULL,  # exceeded storage allocation
}


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


# Checked in order, first match wins. Order matters: blocklist names contain "spam" (Spamhaus),
# so sender-blocking wording is tried before spam wording.
_WORDING: tuple[tuple[Reason, re.Pattern[str]], ...] = (
    (
        Reason.MAILBOX_FULL,
        _words(
            r"mailbox (is )?full",
            r"over ?quota",
            r"quota (exceeded|full)",
            r"exceed\w* (its |the |their )?(storage|quota)",
            r"insufficient (disk |storage )?space",
            r"mailbox size limit",
            r"storage allocation",
        ),
    ),
    (
        Reason.TOO_LARGE,
        _words(
            r"too (big|large|long)",
            r"size limit",
            r"exceeds? (the )?(fixed )?(max\w*|size)",
            r"message (size|length) exceed",
        ),
    ),
    (
        Reason.NO_RECIPIENT,
        _words(
            r"user (is )?(unknown|not found|does ?n[o']t exist)",
            r"unknown (user|recipient|mailbox|address|alias)",
            r"no such (user|mailbox|recipient|address|account)",
            r"(mailbox|recipient|address|account|user) (does ?n[o']t exist|not found|is unknown)",
            r"(account|mailbox) (that you tried to reach )?does not exist",
            r"invalid (recipient|mailbox)",
            r"not a valid (recipient|mailbox)",
            r"unrouteable address",
            r"no mailbox here",
            r"not listed in",
        ),
    ),
    (
        Reason.ATTACHMENT,
        _words(r"attachment", r"file ?(type|extension|name)", r"executable"),
    ),
    (
        Reason.SENDER_BLOCKED,
        _words(
            r"\bip\b",
            r"ip address",
            r"\b(rbl|dnsbl|spamhaus|spamcop|barracuda|sorbs)\b",
            r"black ?list",
            r"block ?list",
            r"blocked using",
            r"\blisted\b",
            r"reputation",
            r"rate ?limit",
            r"throttl",
            r"too many (connections|messages)",
            r"reverse (dns|lookup)",
            r"\bptr\b",
            r"client host",
        ),
    ),
    (
        Reason.SENDER_AUTH,
        _words(
            r"\b(dmarc|spf|dkim)\b", r"unauthenticated", r"authentication (check|fail|required)"
        ),
    ),
    (Reason.SPAM, _words(r"spam", r"unsolicited", r"junk", r"phish", r"bulk mail", r"complaint")),
    (Reason.CONTENT, _words(r"content", r"virus", r"malware", r"infected")),
)

# X.Y.Z at the start of a string; Y and Z are 1-3 digits (RFC 3463). Not followed by more
# digits or ".digit", so an IPv4 address is not mistaken for a status.
_STATUS_AT_START = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
# The same anywhere in a reply, but not in the middle of a dotted number.
_STATUS_ANYWHERE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")


def parse_status(status: str) -> tuple[int, int, int] | None:
    """`(class, subject, detail)` of a status such as `5.1.1` or `5.0.0 (permanent failure)`."""
    match = _STATUS_AT_START.match(status)
    if match is None:
        return None
    cls, subject, detail = (int(part) for part in match.groups())
    return cls, subject, detail


def find_status(text: str, status_class: int | None = None) -> str | None:
    """The first enhanced status code in a reply or diagnostic text, normalised (`5.1.1`).

    Servers put it first (RFC 2034), but relayed diagnostics often bury it. With
    `status_class`, codes of another class are skipped: RFC 3463 requires the class to match
    the reply code, and the reply code is what decides retrying.
    """
    for match in _STATUS_ANYWHERE.finditer(text):
        cls, subject, detail = (int(part) for part in match.groups())
        if status_class is None or cls == status_class:
            return f"{cls}.{subject}.{detail}"
    return None


def classify_status(status: str, text: str = "", reply_code: int | None = None) -> Reason:
    """The reason behind a failure: specific status first, then wording, then coarse defaults."""
    parsed = parse_status(status)
    if parsed is None or parsed[0] == 2:
        return Reason.UNDETERMINED
    _, subject, detail = parsed
    specific = _BY_STATUS.get((subject, detail))
    if specific is not None:
        return specific
    for reason, pattern in _WORDING:
        if pattern.search(text):
            return reason
    if subject in _BY_SUBJECT:
        return _BY_SUBJECT[subject]
    # The reply code is the weakest hint: only used when the status names nothing but a class.
    if subject == 0 and reply_code in _BY_REPLY_CODE:
        return _BY_REPLY_CODE[reply_code]
    return Reason.OTHER


def bounce_type_for_status(
    status: str, text: str = "", reply_code: int | None = None
) -> tuple[BounceType, BounceSubType]:
    """SES `(bounceType, bounceSubType)` for a final failure with this status and wording.

    The status class picks the column (5 → as SES names permanent failures, 4 → Transient); a
    missing or malformed status is `Undetermined`/`Undetermined`.
    """
    rule = RULES[classify_status(status, text, reply_code)]
    parsed = parse_status(status)
    return rule.permanent if parsed is not None and parsed[0] == 5 else rule.transient


def delay_type_for(status: str, text: str = "", reply_code: int | None = None) -> DelayType:
    """SES `deliveryDelay.delayType` for a temporary failure with this status and wording."""
    return RULES[classify_status(status, text, reply_code)].delay
