"""Robust decoding of a raw feedback message into text the parsers can read.

Real bounces are often malformed: mbox ``From `` lines, CR CR LF endings, wrong or misspelled
charsets, raw 8-bit bytes, multipart bodies whose boundary is missing or declared on the wrong
line, a whole DSN pasted into a ``text/plain`` body. Everything here tolerates that and never
raises: the worst outcome is less text, not an exception.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.utils
import html
import re
from dataclasses import dataclass, field

# MIME types with a role in feedback: machine-readable reports, returned header blocks and
# enclosed messages (the returned original, or a report forwarded as an attachment).
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ARF_TYPES = frozenset({"message/feedback-report"})
_HEADER_TYPES = frozenset(
    {
        "text/rfc822-headers",
        "text/rfc822-header",
        "message/rfc822-headers",
        "text/global-headers",
        "message/global-headers",
    }
)
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/partial"})

# Misspellings and legacy names seen in real bounces, mapped to a codec Python knows.
_CHARSET_ALIASES = {
    "uft-8": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-1-1-utf-8": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "iso-2022-jp-ms": "iso-2022-jp",
    "cp-850": "cp850",
}

_ISO2022_ESCAPE = re.compile(rb"\x1b[$(][@BJ]")
_HTML_BREAK = re.compile(r"(?i)<\s*(?:br|/p|/div|/tr|/h\d|/li|p|div|tr)\b[^>]*>")
_HTML_INVISIBLE_OPEN = re.compile(r"(?i)<(script|style|head)\b[^>]*>")
_HTML_TAG = re.compile(r"(?s)<[^>]*>")
_BOUNDARY_LINE = re.compile(r"^--([^\s].{0,200}?)(--)?[ \t]*$", re.MULTILINE)
_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,60}:[ \t]?\S")


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode body bytes, trusting the declared charset only as far as it works."""
    if not data:
        return ""
    # ISO-2022-JP text is 7-bit, so it is often sent without (or with a wrong) charset.
    if _ISO2022_ESCAPE.search(data):
        try:
            return data.decode("iso-2022-jp")
        except UnicodeDecodeError:
            pass
    name = _codec(charset)
    if name and name not in ("ascii", "us-ascii"):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Japanese carriers label EUC-JP or Shift_JIS bodies as ISO-2022-JP (the 7-bit form
    # is not possible for 8-bit data, so the label is certainly wrong).
    if name and name.startswith(("iso2022_jp", "euc_jp", "shift_jis", "cp932")):
        for legacy in ("euc_jp", "cp932"):
            try:
                return data.decode(legacy)
            except UnicodeDecodeError:
                continue
    if name and name not in ("ascii", "us-ascii"):
        try:
            return data.decode(name, errors="replace")
        except (LookupError, ValueError):
            pass
    # "us-ascii" with 8-bit bytes is nearly always a Western single-byte charset.
    return data.decode("cp1252", errors="replace")


_SURROGATE = re.compile("[\udc80-\udcff]")


def _unsurrogate(value: str) -> str:
    """Turn raw 8-bit header bytes (kept as surrogates by the parser) back into text."""
    if not _SURROGATE.search(value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"))


def decode_header(value: object) -> str:
    """Decode an RFC 2047 header value into one line of text; never raises."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        # Raw 8-bit header bytes come back as an "unknown-8bit" Header object.
        try:
            chunks = email.header.decode_header(value)
        except Exception:
            chunks = []
        text = "".join(
            decode_bytes(chunk, None if charset == "unknown-8bit" else charset)
            if isinstance(chunk, bytes)
            else chunk
            for chunk, charset in chunks
        )
    else:
        text = value if isinstance(value, str) else str(value)
    text = _unsurrogate(text)
    if "=?" in text:
        try:
            chunks = email.header.decode_header(text)
            pieces: list[str] = []
            for chunk, charset in chunks:
                if isinstance(chunk, bytes):
                    pieces.append(decode_bytes(chunk, charset))
                else:
                    pieces.append(chunk)
            text = "".join(pieces)
        except (ValueError, LookupError, UnicodeError, AssertionError):
            pass
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def _drop_invisible(markup: str) -> str:
    # str.find instead of a lazy regex: unclosed <style> tags must not cost quadratic time.
    out: list[str] = []
    position = 0
    lowered = markup.lower()
    for match in _HTML_INVISIBLE_OPEN.finditer(markup):
        if match.start() < position:
            continue
        out.append(markup[position : match.start()])
        close = lowered.find(f"</{match.group(1).lower()}", match.end())
        if close < 0:
            position = match.end()
            continue
        end = markup.find(">", close)
        position = len(markup) if end < 0 else end + 1
    out.append(markup[position:])
    return " ".join(out)


def html_to_text(markup: str) -> str:
    """Crude but dependable HTML flattening: good enough to find addresses and codes."""
    text = _drop_invisible(markup)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    return html.unescape(text)


def normalize_raw(raw: bytes) -> bytes:
    """Undo transport damage before parsing: mbox separator line, CRLF, doubled CR."""
    data = raw.lstrip(b"\r\n")
    if data.startswith(b"From "):
        newline = data.find(b"\n")
        data = data[newline + 1 :] if newline >= 0 else b""
    return data.replace(b"\r\r\n", b"\n").replace(b"\r\n", b"\n")


@dataclass
class Headers:
    """Case-insensitive, multi-valued header view, decoded on access.

    Decoding lazily matters: a bounce can carry dozens of Received/ARC/DKIM lines per
    enclosed message, and only a handful of fields are ever read.
    """

    items: list[tuple[str, object]] = field(default_factory=list)

    @classmethod
    def of(cls, message: email.message.Message) -> Headers:
        pairs: list[tuple[str, object]] = []
        try:
            for name, value in message.items():
                pairs.append((str(name).strip().lower(), value))
        except Exception:  # a damaged header block must not stop the analysis
            pass
        return cls(pairs)

    def get(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.items:
            if key == name:
                return decode_header(value)
        return None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [decode_header(value) for key, value in self.items if key == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key == name.lower() for key, _ in self.items)


@dataclass
class TextPart:
    """A decoded part. ``attached`` marks text that belongs to a returned/enclosed message."""

    content_type: str
    text: str
    attached: bool
    filename: str | None = None


@dataclass
class ParsedMail:
    headers: Headers
    parts: list[TextPart]
    # message/delivery-status and message/feedback-report bodies, as field text.
    dsn_texts: list[str]
    arf_texts: list[str]
    # Header blocks of returned original messages (rfc822 attachments or header-only parts).
    original_headers: list[Headers]
    # Enclosed messages that are themselves reports (a bounce forwarded as an attachment).
    enclosed_reports: list[email.message.Message]
    # The MIME walk stopped early on a structure it could not handle.
    damaged: bool = False

    @property
    def notification_parts(self) -> list[TextPart]:
        return [p for p in self.parts if not p.attached]


# Feedback is decided by the first pages of text; bounding what we scan bounds the time a
# hostile or broken message can cost.
MAX_PART_CHARS = 256_000


def _part_text(part: email.message.Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return decode_bytes(payload[: MAX_PART_CHARS * 4], part.get_content_charset())[
            :MAX_PART_CHARS
        ]
    raw = part.get_payload()
    if isinstance(raw, str):
        return _unsurrogate(raw[:MAX_PART_CHARS])
    return ""


def _raw_value(value: object) -> str:
    """A field value as text, without RFC 2047 decoding (DSN fields are not encoded words)."""
    if isinstance(value, email.header.Header):
        chunks = email.header.decode_header(value)
        return "".join(
            decode_bytes(chunk, None) if isinstance(chunk, bytes) else chunk for chunk, _ in chunks
        )
    return _unsurrogate(str(value))


def _fix_iso2022(text: str) -> str:
    """Field values are parsed as ASCII, so raw ISO-2022-JP escapes survive undecoded."""
    if "\x1b" not in text:
        return text
    try:
        return text.encode("ascii", "surrogateescape").decode("iso-2022-jp")
    except (UnicodeError, LookupError):
        return text


def _fields_text(part: email.message.Message) -> str:
    """Rebuild the text of a message/delivery-status or feedback-report body.

    The stdlib parser turns each blank-line separated block into a nested message; we only
    want the field lines back, in order, so our own tolerant field parser can read them.
    """
    blocks = part.get_payload()
    if isinstance(blocks, str):
        # The transfer encoding may hide the fields (base64/quoted-printable bodies).
        return _part_text(part)
    out: list[str] = []
    for block in blocks or []:
        if not isinstance(block, email.message.Message):
            continue
        lines = [f"{name}: {_raw_value(value)}" for name, value in block.items()]
        body = block.get_payload()
        if isinstance(body, str) and body.strip():
            lines.append(_unsurrogate(body))
        elif isinstance(body, list):
            for sub in body:
                if isinstance(sub, email.message.Message):
                    lines.extend(f"{n}: {_raw_value(v)}" for n, v in sub.items())
        out.append("\n".join(lines))
    return _fix_iso2022("\n\n".join(out))


def _salvage_multipart(text: str) -> list[email.message.Message] | None:
    """Split a multipart body whose declared boundary did not match its delimiter lines."""
    counts: dict[str, int] = {}
    for match in _BOUNDARY_LINE.finditer(text):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    candidates = [b for b, n in counts.items() if n >= 2 and len(b) >= 6]
    if not candidates:
        return None
    boundary = max(candidates, key=lambda b: (counts[b], len(b)))
    chunks = re.split(rf"(?m)^--{re.escape(boundary)}(?:--)?[ \t]*$", text)
    messages = []
    for chunk in chunks[1:]:
        chunk = chunk.lstrip("\n")
        if not chunk.strip():
            continue
        first = chunk.split("\n", 1)[0]
        if not _HEADER_LINE.match(first):
            chunk = "\n" + chunk  # no part headers: the chunk is a text/plain body
        messages.append(email.message_from_string(chunk))
    return messages or None


def _is_report(message: email.message.Message) -> bool:
    return message.get_content_type() == "multipart/report" or any(
        p.get_content_type() in _DSN_TYPES for p in message.walk()
    )


def _looks_like_header_block(text: str) -> bool:
    lines = [line for line in text.split("\n", 12)[:12] if line.strip()]
    if len(lines) < 2:
        return False
    fields = sum(1 for line in lines if _HEADER_LINE.match(line) or line[0] in " \t")
    return bool(_HEADER_LINE.match(lines[0])) and fields >= len(lines) * 0.6


def _walk(part: email.message.Message, attached: bool, depth: int, mail: ParsedMail) -> None:
    if depth > 12:  # pathological nesting; the outer levels carry the report anyway
        return
    ctype = part.get_content_type()
    if ctype in _DSN_TYPES or ctype in _ARF_TYPES:
        # Reports inside a returned message belong to that message, not to this one.
        if not attached:
            target = mail.dsn_texts if ctype in _DSN_TYPES else mail.arf_texts
            target.append(_fields_text(part))
        return
    if ctype in _HEADER_TYPES:
        text = _part_text(part)
        mail.original_headers.append(Headers.of(email.message_from_string(text.lstrip())))
        return
    if ctype in _MESSAGE_TYPES:
        _walk_enclosed(part, attached, depth, mail)
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, email.message.Message):
                _walk(sub, attached, depth + 1, mail)
        return
    maintype = part.get_content_maintype()
    if maintype == "multipart":
        salvaged = _salvage_multipart(_part_text(part))
        if salvaged:
            for sub in salvaged:
                _walk(sub, attached, depth + 1, mail)
            return
        ctype = "text/plain"
    elif maintype not in ("text", "message") and ctype != "application/json":
        return
    text = _part_text(part)
    if ctype == "text/html":
        text = html_to_text(text)
    elif ctype != "application/json" and maintype != "text":
        ctype = "text/plain"
    filename = part.get_filename()
    # Some MTAs attach the returned headers as a plain text file; treat it as returned data.
    if not attached and filename and _looks_like_header_block(text):
        mail.original_headers.append(Headers.of(email.message_from_string(text.lstrip())))
        attached = True
    mail.parts.append(TextPart(ctype, text, attached, filename))


def _walk_enclosed(
    part: email.message.Message, attached: bool, depth: int, mail: ParsedMail
) -> None:
    inner = part.get_payload()
    messages = inner if isinstance(inner, list) else []
    if not messages and isinstance(inner, str) and inner.strip():
        messages = [email.message_from_string(_unsurrogate(inner).lstrip())]
    for message in messages:
        if not isinstance(message, email.message.Message):
            continue
        if not attached and _is_report(message):
            mail.enclosed_reports.append(message)
        mail.original_headers.append(Headers.of(message))
        _walk(message, True, depth + 1, mail)


def parse(raw: bytes) -> ParsedMail | None:
    """Parse raw bytes; ``None`` when the input is not a mail message at all."""
    data = normalize_raw(raw)
    if not data.strip():
        return None
    try:
        message = email.message_from_bytes(data)
    except Exception:
        return None
    return _walk_top(message)


def parse_message(message: email.message.Message) -> ParsedMail:
    """Analyse an already-parsed (enclosed) message the same way as a raw one."""
    return _walk_top(message)


def _walk_top(message: email.message.Message) -> ParsedMail:
    mail = ParsedMail(Headers.of(message), [], [], [], [], [])
    try:
        _walk(message, False, 0, mail)
    except Exception:  # keep whatever was decoded before the damage
        mail.damaged = True
    return mail


def address_of(value: str | None) -> str | None:
    """The bare address of a header value such as ``"Name" <a@b>``; None when absent."""
    if not value:
        return None
    try:
        _, addr = email.utils.parseaddr(value)
    except Exception:
        addr = ""
    addr = addr.strip().strip("<>").strip()
    if "@" not in addr:
        found = re.search(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+", value)
        addr = found.group(0) if found else ""
    return addr or None


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    domain = address.rsplit("@", 1)[1].strip().strip(">").strip(".").lower()
    return domain or None
