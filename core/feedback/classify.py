"""Mapping a recipient's status and diagnostic onto SES bounce types and subtypes.

The type follows the SMTP status class, as SES's does for the bounces it relays: 5.x.x is
Permanent, 4.x.x is Transient, and an RFC 3464 ``Action: delayed`` is Transient whatever code
it carries (the sender's MTA is still retrying). Without any code we fall back on the wording.

The subtype says why. Unlike SES, which only emits MailboxFull/MessageTooLarge/ContentRejected
under Transient, we keep the reason under either type, because our type is the server's own
class and a 5.2.2 "mailbox full" is still a mailbox-full bounce. NoEmail and the suppression
subtypes are only given to Permanent bounces: they are what drives suppression of an address,
and a temporary "user unknown" must not do that.
"""

from __future__ import annotations

import re

from .model import PERMANENT, TRANSIENT, UNDETERMINED
from .status import status_class

_TRANSIENT_WORDS = re.compile(
    r"(?i)\b(?:temporar(?:y|ily)|try again later|will be retried|will retry|retrying"
    r"|delayed|deferred|has not yet been delivered|not yet (?:been )?delivered"
    r"|warning message only|still being retried|will continue trying|temporary failure)\b"
)
_PERMANENT_WORDS = re.compile(
    r"(?i)(?:permanent(?:ly)?|fatal|undeliverable|could not be delivered|couldn't be delivered"
    r"|can't be delivered|cannot be delivered|was not delivered|wasn't delivered|not be delivered"
    r"|delivery (?:has )?failed|failed to deliver|unable to deliver|rejected|giving up|gave up"
    r"|returned mail|failure notice|delivery failure|mail delivery failed|no such user"
    r"|user unknown|does not exist|not found)"
)

_ACCOUNT_SUPPRESSED = re.compile(r"(?i)account[- ]level suppression|account suppression list")
_SUPPRESSED = re.compile(r"(?i)suppression list|has suppressed|suppressed sending|is suppressed")
_TOO_LARGE = re.compile(
    r"(?i)too (?:large|big)|exceeds? (?:the )?(?:fixed |maximum |max |allowed )*(?:message )?"
    r"size|size (?:limit|exceed)|message length exceeds|larger than (?:the )?(?:maximum|allowed)"
    r"|recipsizelimit|message size"
)
_MAILBOX_FULL = re.compile(
    r"(?i)mailbox (?:is )?full|mailbox exceeds|mail ?box size|over ?quota|quota (?:exceeded|full)"
    r"|exceeded (?:the |their |storage |mailbox )*quota|(?:disk|storage|mailbox) quota"
    r"|insufficient (?:disk space|storage)|mail ?folder is full|full mailbox|mailbox full"
    r"|out of storage|storage (?:space )?(?:is )?full|user(?:'s)? mailbox is full"
    r"|postfach (?:ist )?voll|bo[îi]te (?:aux lettres |de r[ée]ception )?(?:est )?pleine"
    r"|buz[óo]n (?:est[áa] )?lleno|casella (?:di posta )?piena"
    r"|メールボックスが(?:一杯|いっぱい|満杯)|容量(?:超過|オーバー|制限)|信箱已满|邮箱已满"
)
_ATTACHMENT = re.compile(
    r"(?i)attachment|file ?type|file extension|banned file|blocked file|executable"
    r"|prohibited (?:file|content type)"
)
# Content, not reputation: "IP blocked for spamming" is not a content rejection.
_CONTENT = re.compile(
    r"(?i)(?:message|content|mail|e-?mail|body)\b[^.;]{0,40}\b(?:spam|unsolicited|ube)\b"
    r"|\b(?:spam|ube|unsolicited)\b[^.;]{0,25}\b(?:content|message|detected|classification"
    r"|score|signature)|scored as spam|considered (?:as )?(?:spam|unsolicited)|\bube\b"
    r"|virus|malware|phish|content (?:rejected|filter|policy)|message content"
    r"|blacklisted url|uribl|not rfc ?5322 compliant|improper use of 8-bit"
)
_NO_EMAIL = re.compile(
    r"(?i)user ?unknown|unknown (?:user|recipient|mailbox|alias|local[- ]part)"
    r"|no such (?:user|recipient|address|mailbox|account|domain)"
    r"|(?:user|recipient|mailbox|account|address|alias|e-?mail account)"
    r" (?:not found|does(?:n't| not) exist|not exist|unknown)"
    r"|does(?:n't| not) exist|invalid (?:recipient|mailbox|user)|not a valid (?:recipient|mailbox)"
    r"|recip(?:ient)?notfound|no mailbox|mailbox (?:not found|unavailable|does not exist)"
    r"|no longer (?:on server|valid|exists?|active|available)|not our (?:user|customer)"
    r"|is not a registered|doesn't have an? [^ ]+ account|unknown or illegal alias"
    r"|invalid final delivery userid|name is not recognized|couldn't be found|wasn't found"
    r"|domain (?:does not exist|not found)|host (?:not found|unknown)"
    r"|unbekannt(?:er)? (?:empf[äa]nger|benutzer)|utilisateur inconnu|destinataire inconnu"
    r"|adresse (?:destinataire )?invalide|usuario desconocido|no existe|utente sconosciuto"
    r"|(?:宛先|アドレス|ユーザ)[^。]{0,10}(?:見つかりません|存在しません)|用户不存在"
)
# A rejected sender (unknown sender domain, unverified identity) says nothing about the
# recipient's address, even when the wording is "does not exist".
_SENDER_PROBLEM = re.compile(
    r"(?i)sender (?:address|domain)|mail from|from address|envelope sender|identities failed"
    r"|domain of sender|sender is not|unroutable sender|sender verify"
)


def transient_wording(text: str | None) -> bool:
    return bool(text and _TRANSIENT_WORDS.search(text))


def permanent_wording(text: str | None) -> bool:
    return bool(text and _PERMANENT_WORDS.search(text))


def bounce_type(status: str | None, action: str | None, wording: str | None = None) -> str:
    """Permanent / Transient / Undetermined for one bounced recipient."""
    if action == "delayed":
        return TRANSIENT
    cls = status_class(status)
    if cls == "5":
        return PERMANENT
    if cls == "4":
        return TRANSIENT
    if transient_wording(wording):
        return TRANSIENT
    if action == "failed" or permanent_wording(wording):
        return PERMANENT
    return UNDETERMINED


def bounce_subtype(kind_of_bounce: str, status: str | None, diagnostic: str | None) -> str:
    """The SES bounce subtype for a recipient whose type is already decided.

    The status detail is the most reliable signal; the diagnostic wording comes second
    because servers reuse generic codes (5.0.0, 5.7.1) for every kind of refusal.
    """
    if kind_of_bounce == UNDETERMINED:
        return "Undetermined"
    text = diagnostic or ""
    detail = status.split(".", 1)[1] if status and "." in status else ""
    permanent = kind_of_bounce == PERMANENT
    if permanent and _ACCOUNT_SUPPRESSED.search(text):
        return "OnAccountSuppressionList"
    if permanent and _SUPPRESSED.search(text):
        return "Suppressed"
    if detail == "2.2":
        return "MailboxFull"
    if detail in ("3.4", "2.3"):
        return "MessageTooLarge"
    if permanent and detail in ("1.1", "1.2", "1.3", "1.6", "1.10"):
        return "NoEmail"
    if detail.startswith("6."):
        return "ContentRejected"
    if _MAILBOX_FULL.search(text):
        return "MailboxFull"
    if _TOO_LARGE.search(text):
        return "MessageTooLarge"
    if _ATTACHMENT.search(text):
        return "AttachmentRejected"
    if _CONTENT.search(text):
        return "ContentRejected"
    if (
        permanent
        and detail not in ("1.7", "1.8")
        and _NO_EMAIL.search(text)
        and not _SENDER_PROBLEM.search(text)
    ):
        return "NoEmail"
    return "General"
