"""The MIME tree of a formatted message: text and HTML bodies, inline parts and
attachments, serialised 7-bit clean with CRLF line endings.

Shape, as mail clients expect it (each level only when needed):

    multipart/mixed                      attachments present
      multipart/related                  inline parts with a Content-ID present
        multipart/alternative            both a text and an HTML body
          text/plain
          text/html
        inline parts
      attachments

The stdlib picks a multipart boundary with the process-wide random generator, which the
core may not use, so boundaries are chosen here: derived from a digest of the content,
and checked against every leaf so a boundary can never occur inside a part.
"""

from __future__ import annotations

import email.message
import email.policy
import hashlib
from collections.abc import Iterator
from typing import Final

from sendtrail.core.assembly.model import (
    Attachment,
    Content,
    Disposition,
    InvalidContent,
    SimpleMessage,
    TransferEncoding,
)

# SMTP line endings, 7-bit output (non-ASCII headers become encoded-words, 8-bit bodies
# quoted-printable or base64) and lines folded at 78 as RFC 5322 recommends.
POLICY: Final = email.policy.SMTP.clone(cte_type="7bit", max_line_length=78)

DEFAULT_CHARSET: Final = "UTF-8"  # what SES declares on its own bodies (text/html; charset=UTF-8)
SEVEN_BIT_MAX_LINE: Final = 998

# Used when an attachment has no ContentType. A short fixed table, because `mimetypes`
# reads the system's mime.types files, and the answer must not depend on the machine.
_TYPES_BY_EXTENSION: Final[dict[str, str]] = {
    "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
    "json": "application/json", "xml": "application/xml", "ics": "text/calendar",
    "txt": "text/plain", "csv": "text/csv", "htm": "text/html", "html": "text/html",
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "svg": "image/svg+xml", "webp": "image/webp", "mp3": "audio/mpeg", "mp4": "video/mp4",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}  # fmt: skip
_FALLBACK_TYPE: Final = "application/octet-stream"


def build_body(message: SimpleMessage) -> tuple[list[str], bytes]:
    """The MIME headers of the message's top entity (`Content-Type` and friends, one
    string per field, folded with CRLF) and everything after them, the blank separator
    line included."""
    root = _tree(message)
    _assign_boundaries(root)
    serialised = root.as_bytes(policy=POLICY)  # never ">From"-mangles body lines
    # The generator always ends the header block with a blank line.
    head, _, body = serialised.partition(b"\r\n\r\n")
    return _fields(head), b"\r\n" + body


def _fields(head: bytes) -> list[str]:
    """Split a serialised header block into fields, keeping each field's folding."""
    fields: list[str] = []
    for line in head.decode("ascii").split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += "\r\n" + line
        elif line:
            fields.append(line)
    return fields


def _tree(message: SimpleMessage) -> email.message.MIMEPart:
    bodies = [
        _text_part(content, subtype)
        for content, subtype in ((message.text, "plain"), (message.html, "html"))
        if content is not None
    ]
    if not bodies:
        # v2 lets Body carry neither part; an empty text part keeps the message valid.
        bodies = [_text_part(Content(""), "plain")]
    node = bodies[0] if len(bodies) == 1 else _multipart("alternative", bodies)
    inline = [
        _attachment_part(attachment, index)
        for index, attachment in enumerate(message.attachments)
        if _is_related(attachment)
    ]
    if inline:
        root_type = node.get_content_type()
        node = _multipart("related", [node, *inline])
        # RFC 2387 requires `type`: the media type of the root part, the body shown.
        node.set_param("type", root_type)
    attached = [
        _attachment_part(attachment, index)
        for index, attachment in enumerate(message.attachments)
        if not _is_related(attachment)
    ]
    if attached:
        node = _multipart("mixed", [node, *attached])
    return node


def _is_related(attachment: Attachment) -> bool:
    """Inline parts with a Content-ID are what an HTML body refers to (`cid:`), so they
    belong with it in multipart/related; an inline part without one is just shown."""
    return attachment.content_disposition is Disposition.INLINE and bool(attachment.content_id)


def _text_part(content: Content, subtype: str) -> email.message.MIMEPart:
    part = email.message.MIMEPart(policy=POLICY)
    charset = content.charset or DEFAULT_CHARSET
    try:
        part.set_content(content.data, subtype=subtype, charset=charset)
    except LookupError:
        raise InvalidContent(f"Body.{_member(subtype)}.Charset", f"unknown {charset!r}") from None
    except UnicodeError:
        raise InvalidContent(
            f"Body.{_member(subtype)}.Data", f"the text cannot be encoded in {charset!r}"
        ) from None
    return part


def _member(subtype: str) -> str:
    return "Html" if subtype == "html" else "Text"


def _attachment_part(attachment: Attachment, index: int) -> email.message.MIMEPart:
    part = email.message.MIMEPart(policy=POLICY)
    content_type = attachment.content_type or _guess_type(attachment.file_name)
    media_type, _, parameters = content_type.partition(";")
    maintype, _, subtype = media_type.strip().lower().partition("/")
    content_id = attachment.content_id
    if content_id is not None and not content_id.startswith("<"):
        content_id = f"<{content_id}>"
    try:
        part.set_content(
            attachment.raw_content,
            maintype,
            subtype,
            cte=_transfer_encoding(attachment),
            disposition=attachment.content_disposition.lower(),
            filename=attachment.file_name,
            cid=content_id,
            # `name` on Content-Type too: some clients only look there for a file name.
            params={"name": attachment.file_name},
        )
    except (ValueError, TypeError) as exc:
        raise InvalidContent(f"Attachments[{index}]", str(exc)) from None
    for key, value in _parameters(parameters):
        part.set_param(key, value)
    if attachment.content_description is not None:
        # The policy writes non-ASCII as encoded-words; validation ruled out line breaks.
        part["Content-Description"] = attachment.content_description
    return _content_type_first(part)


def _content_type_first(part: email.message.MIMEPart) -> email.message.MIMEPart:
    """The same part with Content-Type as its first header, where readers expect it
    (adding parameters re-appends the header at the end)."""
    ordered = email.message.MIMEPart(policy=POLICY)
    for name, value in sorted(part.items(), key=lambda item: item[0].lower() != "content-type"):
        ordered[name] = value
    ordered.set_payload(part.get_payload())
    return ordered


def _guess_type(file_name: str) -> str:
    _, dot, extension = file_name.rpartition(".")
    return _TYPES_BY_EXTENSION.get(extension.lower(), _FALLBACK_TYPE) if dot else _FALLBACK_TYPE


def _parameters(text: str) -> Iterator[tuple[str, str]]:
    """`; charset=utf-8; x="y"` -> (charset, utf-8), (x, y): the ones a ContentType adds."""
    for item in text.split(";"):
        key, equals, value = item.partition("=")
        if equals and key.strip():
            yield key.strip().lower(), value.strip().strip('"')


def _transfer_encoding(attachment: Attachment) -> str:
    encoding = attachment.content_transfer_encoding
    if encoding is TransferEncoding.QUOTED_PRINTABLE:
        return "quoted-printable"
    if encoding is TransferEncoding.SEVEN_BIT and _is_seven_bit(attachment.raw_content):
        return "7bit"
    # SEVEN_BIT asked for content that is not 7-bit (8-bit bytes, NULs, overlong lines):
    # base64 keeps it intact where sending it as declared would corrupt it.
    return "base64"


def _is_seven_bit(data: bytes) -> bool:
    if not data.isascii() or b"\0" in data:
        return False
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    return all(b"\r" not in line and len(line) <= SEVEN_BIT_MAX_LINE for line in lines)


def _multipart(subtype: str, parts: list[email.message.MIMEPart]) -> email.message.MIMEPart:
    node = email.message.MIMEPart(policy=POLICY)
    node["Content-Type"] = f"multipart/{subtype}"
    for part in parts:
        node.attach(part)
    return node


def _assign_boundaries(root: email.message.MIMEPart) -> None:
    """Give every multipart a boundary that occurs in none of the leaves. The `=_` in it
    cannot appear in base64 or quoted-printable text, so a clash needs a 7-bit part that
    contains it, and is then resolved by the next attempt."""
    leaves = [part.get_payload() for part in root.walk() if not part.is_multipart()]
    digest = hashlib.sha256("\0".join(str(leaf) for leaf in leaves).encode()).hexdigest()
    multiparts = [part for part in root.walk() if part.is_multipart()]
    for number, part in enumerate(multiparts):
        attempt = 0
        while True:
            boundary = f"----=_Part_{number}_{digest[:24]}" + (f".{attempt}" if attempt else "")
            if not any(boundary in str(leaf) for leaf in leaves):
                break
            attempt += 1
        part.set_boundary(boundary)
