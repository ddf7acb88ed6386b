"""Turning one raw feedback message into a FeedbackReport.

Order matters, because formats overlap:

1. Amazon SES JSON events say exactly what they are.
2. ARF feedback reports are complaints even though they are ``multipart/report``.
3. RFC 3464 delivery status (a proper part, a bounce forwarded as an attachment, or DSN fields
   in plain text) decides bounce vs delivered per recipient; the human-readable text refines
   each recipient's status and diagnostic.
4. Complaints without ARF (Hotmail forwards, unsubscribe requests).
5. Auto-replies: an out-of-office subject, or autoresponder headers when neither the subject
   nor the body reads like a delivery failure (several MTAs mark their bounces
   ``Auto-Submitted: auto-replied``); never a message from a mailer daemon.
6. Non-standard bounces, read from the notification text.
7. Mailing-list manager rejections.
"""

from __future__ import annotations

import re

import msgspec

from . import arf, autoreply, original, ses
from .classify import bounce_subtype, bounce_type
from .dsn import DsnReport, parse_dsn
from .mime import Headers, ParsedMail, address_of, domain_of, parse, parse_message
from .model import (
    KIND_AUTOREPLY,
    KIND_BOUNCE,
    KIND_COMPLAINT,
    KIND_DELIVERED,
    KIND_UNKNOWN,
    UNKNOWN_REPORT,
    FeedbackReport,
    RecipientVerdict,
)
from .status import best_status, status_class
from .textual import (
    ADDRESS_RE,
    RecipientBlock,
    diagnostic_text,
    mentioned_addresses,
    notification_text,
    original_section,
    recipient_blocks,
)

_DAEMON_SENDER = re.compile(
    r"(?i)mailer[-_ ]?daemon|post_?master|mail delivery|delivery (?:system|subsystem|service)"
    r"|mail administrator|ndr administrator|content[- ]filter|mail deliver system|mail system"
)
_BOUNCE_SUBJECT = re.compile(
    r"(?i)undeliver|not (?:been )?delivered|could not be (?:delivered|sent)"
    r"|delivery (?:status|failure|failed|has failed|report|notification|problem|error)"
    r"|returned (?:mail|to sender)|returning message|failure notice|failure delivery"
    r"|mail (?:delivery )?fail|mail system error|non[- ]?deliver|failed delivery|delayed mail"
    r"|warning: could not send|error sending|non remis|unzustellbar|nicht zustellbar"
    r"|zustellung fehlgeschlagen|[ée]chec de (?:la )?(?:remise|distribution)|non d[ée]livr"
    r"|no (?:se ha podido )?entregad|no se puede entregar|error (?:de|en la) entrega"
    r"|onbestelbaar|niet afgeleverd|non recapitat|mancato recapito|n[ãa]o (?:foi )?entregue"
    r"|falha na entrega|не доставлено|недоставлен|退信|未送达|无法投递"
    r"|配信(?:エラー|不能|できません|失敗)|送信エラー|エラーメール|返送|未配達|不達"
)
_BOUNCE_BODY = re.compile(
    r"(?i)could not be delivered|couldn't be delivered|could not deliver|wasn't able to deliver"
    r"|(?:was|were) not delivered|wasn't delivered|not be delivered|message not delivered"
    r"|delivery to the following recipients?|the following address(?:\(es\)|es)? (?:failed|had)"
    r"|unable to deliver|undeliverable|mail delivery failed|delivery (?:has )?failed"
    r"|failed to deliver|this is a permanent error|permanent fatal errors|failed permanently"
    r"|error (?:delivering|sending) your (?:mail|message)|did not reach the following recipient"
    r"|rejected your message|error (?:has )?occurred while (?:trying|attempting) to deliver"
    r"|recipients? (?:was|were) rejected|transcript of session follows|unsent message follows"
    r"|returned mail|failure reasons|delivery status notification"
    r"|送信できませんでした|配信できませんでした|送信に失敗|配信に失敗|届けることができません"
    r"|не (?:может быть )?доставлено|nicht zugestellt werden|n'a pas pu [êe]tre (?:remis|distribu)"
    r"|no (?:se )?ha podido (?:ser )?entregad|non [èe] stato (?:possibile )?recapitat"
)
# A reply code followed by an enhanced status code ("550 5.1.1", "421-4.7.0") is SMTP
# language that neither people nor vacation responders write.
_SMTP_REPLY_LINE = re.compile(r"(?<![\d.])[45][0-5]\d[ -]#?[45]\.\d{1,3}\.\d{1,3}(?![\d.])")
_DELAY_HINT = re.compile(
    r"(?i)warning message only|\bthis is a warning\b|has been delayed|\bis delayed\b"
    r"|delivery (?:is )?delayed|will be retried|will continue trying|temporary failure report"
    r"|not yet been delivered|do not need to (?:re-?send|resend)|still being retried"
)
# Success notifications whose machine-readable part is missing.
_SUCCESS_HINT = re.compile(
    r"(?i)\(success\)|\(relay\)|successful(?:ly)? deliver|delivery report that you requested"
    r"|(?:was|has been) (?:successfully )?(?:delivered|relayed) to|delivery to the following"
    r" recipients? (?:succeeded|was successful|complete)"
)
_DELAY_SUBJECT = re.compile(r"(?i)\bdelay(?:ed)?\b|\bwarning\b|still being retried|deferred")
_LIST_HEADERS = ("x-mlserver", "x-ml-name", "x-ml-server", "mailing-list", "list-id")
_LIST_REJECTION_SUBJECT = re.compile(
    r"(?i)not (?:a )?member|reject|denied|not allowed|loop|moderat|held for|refused|error"
)
# Exim "(generated from a@b)", Postfix "(expanded from <a@b>)": the address the sender used.
_EXPANDED_FROM = re.compile(
    r"(?i)\((?:ultimately )?(?:generated|expanded) from:?\s*<?(?P<addr>[^\s<>()@]+@[^\s<>()]+)>?\)"
)
_REMOTE_HOST = re.compile(r"(?i)\bhost\s+([A-Za-z0-9][\w-]*(?:\.[\w-]+)+)\s*\[")
_IP_ADDRESS = re.compile(r"^\[?[\d.:a-fA-F]+\]?$")


def classify(raw: bytes) -> FeedbackReport:
    """Classify one raw message. Never raises: unreadable input is kind ``unknown``."""
    try:
        if not isinstance(raw, bytes | bytearray | memoryview):
            return UNKNOWN_REPORT
        return analyze(bytes(raw))
    except Exception:  # the parsers are defensive; this is the last line of defence
        return UNKNOWN_REPORT


def analyze(raw: bytes) -> FeedbackReport:
    """Like :func:`classify` but lets unexpected errors propagate (used by tests)."""
    mail = parse(raw)
    if mail is None:
        return UNKNOWN_REPORT
    return _analyze_mail(mail, depth=0)


def _analyze_mail(mail: ParsedMail, depth: int) -> FeedbackReport:
    headers = mail.headers
    subject = headers.get("subject") or ""
    notification = notification_text(mail)

    for part in mail.notification_parts:
        event = ses.find_event(part.text)
        if event is not None:
            report = ses.report_from_event(event, subject or None)
            if report is not None:
                return report

    complaint = arf.parse_feedback_report(mail)
    if complaint is not None:
        return _complaint_report(mail, complaint, subject)

    dsn = _find_dsn(mail.dsn_texts, strict=False)
    if dsn is None and depth < 2:
        for enclosed in mail.enclosed_reports:
            inner = _analyze_mail(parse_message(enclosed), depth + 1)
            if inner.kind in (KIND_BOUNCE, KIND_DELIVERED):
                return _with_subject(inner, subject, mail)
    if dsn is None:
        dsn = _find_dsn([notification.full_text], strict=True)
    if dsn is not None:
        return _dsn_report(mail, dsn, notification.text, notification.full_text, subject)

    daemon = bool(_DAEMON_SENDER.search(headers.get("from") or "")) or _empty_sender(headers)
    bounce_subject = bool(_BOUNCE_SUBJECT.search(subject))
    bounce_body = bool(
        _BOUNCE_BODY.search(notification.text) or _SMTP_REPLY_LINE.search(notification.text)
    )

    if not daemon:
        if not bounce_subject and not bounce_body:
            informal = arf.parse_informal_complaint(headers, subject, mail.original_headers)
            if informal is not None:
                return _complaint_report(mail, informal, subject)
        # "Automatic reply: Undeliverable: ..." is somebody's out-of-office answering a
        # bounce: a subject that starts as an auto-reply wins over the bounce words after it.
        if autoreply.subject_signals(subject) and (
            not bounce_subject or autoreply.subject_leads(subject)
        ):
            return _autoreply_report(mail, subject)
        # Headers alone (Exim marks its bounces auto-replied too) only count when neither the
        # subject nor the body reads like a delivery failure.
        if (
            not bounce_subject
            and not bounce_body
            and autoreply.is_autoreply(headers, subject, notification.text)
        ):
            return _autoreply_report(mail, subject)

    if daemon or bounce_subject or bounce_body:
        return _text_report(mail, notification.text, notification.full_text, subject)

    if any(name in headers for name in _LIST_HEADERS) and _LIST_REJECTION_SUBJECT.search(subject):
        return _text_report(mail, notification.text, notification.full_text, subject)
    return FeedbackReport(kind=KIND_UNKNOWN, subject=subject or None)


def _empty_sender(headers: Headers) -> bool:
    """An explicit null sender (``From: <>``), as mailer daemons write; a missing From is not."""
    return (headers.get("from") or "").strip() == "<>"


def _find_dsn(texts: list[str], strict: bool) -> DsnReport | None:
    joined = "\n\n".join(t for t in texts if t)
    if not joined.strip():
        return None
    return parse_dsn(joined, strict=strict)


def _norm(address: str | None) -> str:
    return (address or "").strip().strip("<>\"'").lower()


def _excluded_addresses(mail: ParsedMail) -> set[str]:
    """Addresses that are the sender side of the exchange, never a failed recipient."""
    names = ("from", "to", "cc", "reply-to", "return-path", "sender", "delivered-to")
    excluded = set()
    for name in (*names, "x-original-to", "envelope-to"):
        for value in mail.headers.get_all(name):
            excluded.update(_norm(found) for found in ADDRESS_RE.findall(value))
    for block in mail.original_headers[:1]:
        for name in ("from", "sender", "return-path", "reply-to"):
            value = block.get(name) or ""
            excluded.update(_norm(found) for found in ADDRESS_RE.findall(value))
    return excluded


def _reporting_domain(reporting_mta: str | None, headers: Headers) -> str | None:
    if reporting_mta:
        host = reporting_mta.strip().split()[0].strip("[]();").lower()
        if host and "." in host and not _IP_ADDRESS.match(host):
            return host
    return domain_of(address_of(headers.get("from")))


def _original(mail: ParsedMail, full_text: str) -> original.OriginalMessage:
    inline = original_section(full_text)
    if inline is None and not mail.original_headers:
        inline = full_text
    return original.extract(mail.original_headers, inline)


def _with_subject(report: FeedbackReport, subject: str, outer: ParsedMail) -> FeedbackReport:
    """A report read from an enclosed bounce, presented as the outer message's report."""
    domain = report.reporting_domain or _reporting_domain(None, outer.headers)
    return msgspec.structs.replace(report, subject=subject or None, reporting_domain=domain)


def _verdict(
    recipient: str | None,
    action: str | None,
    status: str | None,
    diagnostic: str | None,
    wording: str,
    remote_mta: str | None,
) -> RecipientVerdict:
    """``wording`` is all the text about the recipient (for permanent/temporary phrasing when
    there is no code); the subtype is read from the diagnostic alone, since quoted headers
    and boilerplate around it would mislead the reason patterns."""
    if action in ("delivered", "relayed", "expanded"):
        return RecipientVerdict(recipient, action, status, None, None, diagnostic, remote_mta)
    kind_of_bounce = bounce_type(status, action, wording)
    subtype = bounce_subtype(kind_of_bounce, status, diagnostic or wording)
    return RecipientVerdict(
        recipient, action, status, kind_of_bounce, subtype, diagnostic, remote_mta
    )


def _kind_of(verdicts: list[RecipientVerdict]) -> str:
    if verdicts and all(v.action in ("delivered", "relayed", "expanded") for v in verdicts):
        return KIND_DELIVERED
    return KIND_BOUNCE


def _dsn_report(
    mail: ParsedMail, dsn: DsnReport, text: str, full_text: str, subject: str
) -> FeedbackReport:
    blocks, _ = recipient_blocks(text, _excluded_addresses(mail) - _dsn_addresses(dsn))
    by_address = {_norm(block.address): block.text for block in blocks}
    verdicts = []
    for recipient in dsn.recipients:
        block = by_address.get(_norm(recipient.final_recipient)) or by_address.get(
            _norm(recipient.original_recipient)
        )
        if block is None and len(dsn.recipients) == 1 and len(blocks) == 1:
            block = blocks[0].text
        status = best_status(recipient.status, recipient.diagnostic_code, block)
        action = recipient.action
        if action is None:
            action = "delivered" if status_class(status) == "2" else "failed"
        diagnostic = recipient.diagnostic_code or diagnostic_text(block or "", recipient.address)
        wording = " ".join(filter(None, [recipient.diagnostic_code, block]))
        verdicts.append(
            _verdict(recipient.address, action, status, diagnostic, wording, recipient.remote_mta)
        )
    found = _original(mail, full_text)
    return FeedbackReport(
        kind=_kind_of(verdicts),
        recipients=tuple(verdicts),
        reporting_mta=dsn.reporting_mta,
        original_message_id=found.message_id,
        original_references=found.references,
        original_recipients=found.recipients,
        reporting_domain=_reporting_domain(dsn.reporting_mta, mail.headers),
        subject=subject or None,
    )


def _dsn_addresses(dsn: DsnReport) -> set[str]:
    keys = set()
    for recipient in dsn.recipients:
        keys.add(_norm(recipient.final_recipient))
        keys.add(_norm(recipient.original_recipient))
    return keys


def _failed_recipients_header(mail: ParsedMail) -> list[str]:
    """Exim (and others) list the failed addresses in an ``X-Failed-Recipients`` header."""
    found: list[str] = []
    for value in mail.headers.get_all("x-failed-recipients"):
        for address in ADDRESS_RE.findall(value):
            if _norm(address) not in {_norm(a) for a in found}:
                found.append(address)
    return found


def _text_report(mail: ParsedMail, text: str, full_text: str, subject: str) -> FeedbackReport:
    found = _original(mail, full_text)
    excluded = _excluded_addresses(mail)
    # A heading is strong evidence: the sender side is only ruled out when the text names
    # somebody else too (a message someone sent to their own address can bounce).
    daemon = {_norm(a) for a in ADDRESS_RE.findall(mail.headers.get("from") or "")}
    blocks, preamble = recipient_blocks(text, daemon)
    if len(blocks) > 1 and any(_norm(b.address) not in excluded for b in blocks):
        blocks = [b for b in blocks if _norm(b.address) not in excluded]
    if not blocks:
        listed = _failed_recipients_header(mail)
        blocks = [RecipientBlock(address, text) for address in listed]
    if not blocks:
        addresses = mentioned_addresses(text, excluded)
        blocks = [RecipientBlock(address, text) for address in addresses]
        preamble = ""
    if not blocks:
        lone = found.recipients[0] if len(found.recipients) == 1 else None
        blocks = [RecipientBlock(lone or "", text)]
    delayed = bool(_DELAY_SUBJECT.search(subject) or _DELAY_HINT.search(text))
    succeeded = bool(_SUCCESS_HINT.search(f"{subject}\n{text}")) and not best_status(None, text)
    verdicts = []
    for block in blocks:
        if succeeded:
            status = best_status(None, block.text, preamble, classes="2")
            verdicts.append(
                _verdict(
                    block.address or None,
                    "delivered",
                    status,
                    diagnostic_text(block.text, block.address),
                    "",
                    None,
                )
            )
            continue
        expanded = _EXPANDED_FROM.search(block.text[:600])
        if expanded:
            block = RecipientBlock(expanded.group("addr"), block.text)
        status = best_status(None, block.text, preamble)
        action = "delayed" if delayed and status_class(status) != "5" else "failed"
        diagnostic = diagnostic_text(block.text, block.address)
        if preamble and (
            diagnostic is None
            or (not best_status(None, block.text) and best_status(None, preamble))
        ):
            # The reason sometimes precedes the recipient list ("because: 550 ... The
            # following recipients were affected: addr").
            diagnostic = diagnostic_text(preamble) or diagnostic
        remote = _REMOTE_HOST.search(block.text)
        wording = f"{block.text}\n{preamble}\n{subject}"
        verdicts.append(
            _verdict(
                block.address or None,
                action,
                status,
                diagnostic,
                wording,
                remote.group(1) if remote else None,
            )
        )
    return FeedbackReport(
        kind=_kind_of(verdicts),
        recipients=tuple(verdicts),
        original_message_id=found.message_id,
        original_references=found.references,
        original_recipients=found.recipients,
        reporting_domain=_reporting_domain(None, mail.headers),
        subject=subject or None,
    )


def _complaint_report(mail: ParsedMail, complaint: arf.Complaint, subject: str) -> FeedbackReport:
    found = original.extract(mail.original_headers, None)
    addresses = complaint.recipients or list(found.recipients)
    verdicts = tuple(RecipientVerdict(address) for address in addresses) or (
        RecipientVerdict(None),
    )
    return FeedbackReport(
        kind=KIND_COMPLAINT,
        recipients=verdicts,
        reporting_mta=complaint.reporting_mta,
        original_message_id=found.message_id,
        original_references=found.references,
        original_recipients=found.recipients or tuple(complaint.recipients),
        reporting_domain=domain_of(address_of(mail.headers.get("from")))
        or _reporting_domain(complaint.reporting_mta, mail.headers),
        feedback_type=complaint.feedback_type,
        user_agent=complaint.user_agent,
        arrival_date=complaint.arrival_date,
        subject=subject or None,
    )


def _autoreply_report(mail: ParsedMail, subject: str) -> FeedbackReport:
    headers = mail.headers
    replier = address_of(headers.get("from"))
    in_reply_to = original.from_text(f"Message-ID: {headers.get('in-reply-to') or ''}")
    references = tuple(re.findall(r"<[^<>\s]+@[^<>\s]+>", " ".join(headers.get_all("references"))))
    message_id = in_reply_to.message_id if in_reply_to else None
    if message_id is None and references:
        message_id = references[-1]
    return FeedbackReport(
        kind=KIND_AUTOREPLY,
        recipients=(RecipientVerdict(replier),),
        original_message_id=message_id,
        original_references=references,
        original_recipients=(replier,) if replier else (),
        reporting_domain=domain_of(replier),
        subject=subject or None,
    )
