"""What SES requires of a message before it accepts it.

`inspect_raw_message` runs every rule on a raw MIME message (v1 SendRawEmail, v2 Raw
content, SMTP DATA) and returns the facts the engine needs next (sender headers,
recipients, attachment names). The rules are also callable one by one, e.g.
`check_recipient_count` for formatted sends.

Order of the checks: cheapest and most fundamental first (size, then lines, then the
header block, then addresses, then the MIME tree), so the first problem reported is the
one SES would most plausibly hit first. Their relative order inside SES is UNCONFIRMED.
"""

from __future__ import annotations

import email.errors
import email.header
import email.message
import email.parser
import email.policy
import enum
import re
from collections.abc import Iterable, Sequence

import msgspec

from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.addresses import (
    EmailAddress,
    parse_address,
    parse_address_list,
    recipients_from_headers,
)


class Surface(enum.StrEnum):
    V1_API = "v1"
    V2_API = "v2"
    SMTP = "smtp"


# DG:quotas: 10 MB on the v1 API, 40 MB on v2 and SMTP, attachments and base64 included.
MAX_MESSAGE_BYTES: dict[Surface, int] = {
    Surface.V1_API: 10 * 1024 * 1024,
    Surface.V2_API: 40 * 1024 * 1024,
    Surface.SMTP: 40 * 1024 * 1024,
}

MAX_RECIPIENTS = 50

# RFC 5321 4.5.3.1.6 as BCv1 quotes it: at most 1,000 characters *including* the CRLF,
# so a line's text may be 998 characters long.
MAX_LINE_LENGTH_WITH_CRLF = 1000
MAX_LINE_TEXT_LENGTH = MAX_LINE_LENGTH_WITH_CRLF - 2

# DG:header-fields, copied as listed (compare case-insensitively).
SINGLE_OCCURRENCE_HEADERS: frozenset[str] = frozenset(
    name.lower()
    for name in (
        "Accept-Language", "acceptLanguage", "Archived-At", "Auto-Submitted", "Bounces-to",
        "Comments", "Content-Alternative", "Content-Base", "Content-Class",
        "Content-Description", "Content-Disposition", "Content-Duration", "Content-ID",
        "Content-Language", "Content-Length", "Content-Location", "Content-MD5",
        "Content-Transfer-Encoding", "Content-Type", "Date", "Delivered-To",
        "Disposition-Notification-Options", "Disposition-Notification-To", "DKIM-Signature",
        "DomainKey-Signature", "Errors-To", "From", "Importance", "In-Reply-To", "Keywords",
        "List-Archive", "List-Help", "List-Id", "List-Owner", "List-Post", "List-Subscribe",
        "List-Unsubscribe", "Message-Context", "Message-ID", "MIME-Version", "Organization",
        "Original-From", "Original-Message-ID", "Original-Recipient", "Original-Subject",
        "Precedence", "Priority", "References", "Reply-To", "Return-Path",
        "Return-Receipt-To", "Sender", "Solicitation", "Sensitivity", "Subject",
        "Thread-Index", "Thread-Topic", "User-Agent", "VBR-Info",
    )
)  # fmt: skip

# DG:mime-types, the full list.
UNSUPPORTED_ATTACHMENT_EXTENSIONS: frozenset[str] = frozenset(
    (
        "ade", "adp", "app", "asp", "bas", "bat", "cer", "chm", "cmd", "com", "cpl", "crt", "csh",
        "der", "exe", "fxp", "gadget", "hlp", "hta", "inf", "ins", "isp", "its", "js", "jse", "ksh",
        "lib", "lnk", "mad", "maf", "mag", "mam", "maq", "mar", "mas", "mat", "mau", "mav", "maw",
        "mda", "mdb", "mde", "mdt", "mdw", "mdz", "msc", "msh", "msh1", "msh2", "mshxml", "msh1xml",
        "msh2xml", "msi", "msp", "mst", "ops", "pcd", "pif", "plg", "prf", "prg", "reg", "scf",
        "scr", "sct", "shb", "shs", "sys", "ps1", "ps1xml", "ps2", "ps2xml", "psc1", "psc2", "tmp",
        "url", "vb", "vbe", "vbs", "vps", "vsmacros", "vss", "vst", "vsw", "vxd", "ws", "wsc",
        "wsf", "wsh", "xnk",
    )
)  # fmt: skip

# The stdlib's findings that leave a multipart body unsplit.
_UNSPLITTABLE = (email.errors.StartBoundaryNotFoundDefect, email.errors.NoBoundaryInMultipartDefect)

# RFC 5322 field name: printable ASCII except ':'.
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


class Header(msgspec.Struct, frozen=True):
    name: str  # as written
    value: str  # unfolded, leading blanks removed; non-ASCII bytes kept as surrogates


class RawMessageFacts(msgspec.Struct, frozen=True):
    """What the engine needs from an accepted raw message."""

    size: int
    headers: tuple[Header, ...]
    from_addresses: tuple[EmailAddress, ...]
    sender: EmailAddress | None
    return_path: EmailAddress | None  # None also for the null path `<>`
    reply_to: tuple[EmailAddress, ...]
    header_recipients: tuple[EmailAddress, ...]  # To, Cc and Bcc
    recipients: tuple[EmailAddress, ...]  # the envelope's if given, else the headers'
    attachment_filenames: tuple[str, ...]

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [header.value for header in self.headers if header.name.lower() == wanted]


def max_message_bytes(surface: Surface) -> int:
    return MAX_MESSAGE_BYTES[surface]


def check_message_size(size: int, surface: Surface) -> None:
    limit = MAX_MESSAGE_BYTES[surface]
    if size > limit:
        raise errors.message_too_long(size, limit)


def check_recipient_count(count: int) -> None:
    """At least one and at most 50 recipients across To, Cc and Bcc."""
    if count == 0:
        raise errors.no_recipients()
    if count > MAX_RECIPIENTS:
        raise errors.too_many_recipients()


def check_line_lengths(raw: bytes) -> None:
    for line in raw.split(b"\n"):
        if len(line.removesuffix(b"\r")) > MAX_LINE_TEXT_LENGTH:
            raise errors.line_too_long()


def split_headers(raw: bytes) -> tuple[list[Header], bytes]:
    """The top-level header fields and the body. Raises when the header block does not
    end in a blank line: a line that is neither a field nor a continuation, or the end of
    the message, before one."""
    headers: list[tuple[bytes, list[bytes]]] = []
    position = 0
    while True:
        newline = raw.find(b"\n", position)
        if newline == -1:
            raise errors.missing_header_separator()
        line = raw[position:newline].removesuffix(b"\r")
        position = newline + 1
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise errors.missing_header_separator()
            headers[-1][1].append(line)
            continue
        match = _FIELD_NAME.match(line)
        if match is None:
            raise errors.missing_header_separator()
        headers.append((match.group(1), [line[match.end() :]]))
    parsed = [
        Header(name=_text(name), value=_text(b"".join(pieces)).strip(" \t"))
        for name, pieces in headers
    ]
    return parsed, raw[position:]


def check_duplicate_headers(headers: Iterable[Header]) -> None:
    """SES's at-most-once list, on the message's own header block. Repeats inside MIME
    parts are left alone: every observed rejection names a top-level field."""
    seen: set[str] = set()
    for header in headers:
        key = header.name.lower()
        if key in SINGLE_OCCURRENCE_HEADERS:
            if key in seen:
                raise errors.duplicate_header(header.name)
            seen.add(key)


def check_attachment_filename(filename: str) -> None:
    _, dot, extension = filename.strip().rpartition(".")
    if dot and extension.lower() in UNSUPPORTED_ATTACHMENT_EXTENSIONS:
        raise errors.unsupported_attachment(filename)


def attachment_filenames(message: email.message.Message) -> list[str]:
    """Every file name given to a MIME part (Content-Disposition `filename` or
    Content-Type `name`, RFC 2231 and encoded-words decoded), nested messages included."""
    names: list[str] = []
    for part in message.walk():
        filename = part.get_filename()
        if filename:
            names.append(_decode_words(filename))
    return names


def check_multipart_structure(message: email.message.Message) -> None:
    """Every multipart must be splittable at its boundary.

    A missing *closing* boundary is accepted: JavaMail, whose parser SES's texts come
    from, ignores it by default (mail.mime.multipart.ignoremissingendboundary).
    """
    for part in message.walk():
        if any(isinstance(defect, _UNSPLITTABLE) for defect in part.defects):
            raise errors.malformed_multipart("Missing start boundary")


def inspect_raw_message(
    raw: bytes,
    *,
    surface: Surface,
    envelope_from: str | None = None,
    envelope_recipients: Sequence[str] | None = None,
) -> RawMessageFacts:
    """Apply SES's raw-message rules and return the facts of an acceptable message.

    `envelope_from` is the v1 `Source` / SMTP MAIL FROM; without it the message needs a
    From header. `envelope_recipients` are v1 `Destinations` / SMTP RCPT TO; without them
    the recipients are those of the To, Cc and Bcc headers (UNCONFIRMED for the APIs, but
    widely relied on). Header address lists are parsed either way, because SES rejects a
    malformed one even when the envelope is given ("Illegal semicolon, not in group" over
    SMTP).
    """
    check_message_size(len(raw), surface)
    check_line_lengths(raw)
    headers, _body = split_headers(raw)
    check_duplicate_headers(headers)

    def values(name: str) -> list[str]:
        wanted = name.lower()
        return [header.value for header in headers if header.name.lower() == wanted]

    from_values = values("From")
    if envelope_from is None and not from_values:
        raise errors.missing_required_header("From")
    from_addresses = [a for value in from_values for a in parse_address_list(value)]
    sender = _single(values("Sender"))
    return_path = _return_path(values("Return-Path"))
    reply_to = [a for value in values("Reply-To") for a in parse_address_list(value)]
    header_recipients = recipients_from_headers(values("To"), values("Cc"), values("Bcc"))
    if envelope_recipients is None:
        recipients = header_recipients
    else:
        recipients = [parse_address(recipient) for recipient in envelope_recipients]
    check_recipient_count(len(recipients))

    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    check_multipart_structure(message)
    filenames = attachment_filenames(message)
    for filename in filenames:
        check_attachment_filename(filename)

    return RawMessageFacts(
        size=len(raw),
        headers=tuple(headers),
        from_addresses=tuple(from_addresses),
        sender=sender,
        return_path=return_path,
        reply_to=tuple(reply_to),
        header_recipients=tuple(header_recipients),
        recipients=tuple(recipients),
        attachment_filenames=tuple(filenames),
    )


def _text(data: bytes) -> str:
    # Header bytes above 127 survive as surrogates, so the address rules still see them
    # as non-ASCII and a Subject in raw UTF-8 passes through untouched.
    return data.decode("ascii", "surrogateescape")


def _single(header_values: list[str]) -> EmailAddress | None:
    return parse_address(header_values[0]) if header_values else None


def _return_path(header_values: list[str]) -> EmailAddress | None:
    if not header_values or header_values[0].replace(" ", "") == "<>":
        return None
    return parse_address(header_values[0])


def _decode_words(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return text
