"""RFC 3834 automatic replies (out-of-office, vacation, autoresponders).

Headers are the reliable signal, but many responders set none, so the usual out-of-office
subjects in several languages and a few body phrases also count. ``Auto-Submitted:
auto-replied`` alone is not enough: Exim and several providers put it on their bounces, so
the caller only asks here once the message does not look like a bounce.
"""

from __future__ import annotations

import re

from .mime import Headers

_AUTOREPLY_SUBJECT = re.compile(
    r"(?i)(?:"
    r"\bout of (?:the )?office\b|\bout-of-office\b|\booo\b|\bauto(?:matic|matical)?[- ]?"
    r"(?:reply|response|responder|antwort|answer)\b|\bautoreply\b|\bautosvar\b"
    r"|^\s*(?:away|on vacation|vacation|on leave|absent|abwesend|absence)\b"
    r"|\bi am (?:currently )?(?:away|out)\b|\bon vacation\b|\bvacation (?:reply|notice)\b"
    # German
    r"|abwesenheit|automatische antwort|au[sß]er haus|nicht im b[üu]ro|urlaub"
    # French
    r"|r[ée]ponse automatique|\babsent(?:e)? du bureau|message d'absence|en cong[ée]s?\b"
    # Spanish / Portuguese
    r"|respuesta autom[áa]tica|fuera de la oficina|ausente|fuera de oficina"
    r"|resposta autom[áa]tica|fora do escrit[óo]rio|aus[êe]ncia"
    # Dutch
    r"|automatisch antwoord|afwezig|niet op kantoor|afwezigheidsbericht"
    # Italian
    r"|risposta automatica|fuori (?:sede|ufficio)|assente dall'ufficio"
    # Nordic / Polish / Russian
    r"|automatisk svar|frånvaro|automaattinen vastaus|poissa|odpowied[źz] automatyczna"
    r"|automatyczna odpowied[źz]|nieobecno[śs][ćc]|автоответ|автоматический ответ|отпуск"
    # Japanese / Chinese / Korean
    r"|自動応答|自動返信|不在|休暇|自动回复|自動回覆|休假|부재|자동 응답"
    r")"
)
_AUTOREPLY_BODY = re.compile(
    r"(?i)\bout of (?:the )?office\b|\bi (?:am|will be) (?:currently )?(?:away|out of)"
    r"|\bon (?:annual )?(?:vacation|holiday|leave)\b|upon my return|when i return"
    r"|(?:limited|intermittent|no|without) access to (?:e-?mail|my e-?mail)"
    r"|\bauto(?:matic)?[- ]?reply\b|i will be (?:traveling|travelling|away|out|on leave)"
    r"|returning (?:to the office )?on\b|will respond .{0,40} return"
)


def header_signals(headers: Headers) -> bool:
    """Headers an autoresponder sets (RFC 3834 and the common vendor ones)."""
    auto_submitted = (headers.get("auto-submitted") or "").strip().lower()
    if auto_submitted.startswith("auto-replied"):
        return True
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        value = headers.get(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return True
    for name in ("precedence", "x-precedence"):
        if (headers.get(name) or "").strip().lower() in ("auto_reply", "auto-reply"):
            return True
    return False


def weak_header_signals(headers: Headers) -> bool:
    """Outlook suppresses replies to its out-of-office notes, but also to other messages."""
    return (headers.get("x-auto-response-suppress") or "").strip().lower() in ("all", "oof")


def subject_signals(subject: str) -> bool:
    return bool(_AUTOREPLY_SUBJECT.search(subject))


_LEADING_PREFIX = re.compile(r"^\s*(?:(?:re|aw|fw|fwd|wg|tr|sv)\s*:\s*)*", re.IGNORECASE)


def subject_leads(subject: str) -> bool:
    """True when the subject starts with an auto-reply marker ("Automatic reply: ...")."""
    rest = _LEADING_PREFIX.sub("", subject, count=1)
    match = _AUTOREPLY_SUBJECT.search(rest)
    return bool(match and match.start() <= 2)


def body_signals(text: str) -> bool:
    return bool(_AUTOREPLY_BODY.search(text[:4000]))


def is_autoreply(headers: Headers, subject: str, body: str) -> bool:
    if header_signals(headers) or subject_signals(subject):
        return True
    return weak_header_signals(headers) and body_signals(body)
