"""A send request as the surfaces hand it to the engine (v1, v2 and SMTP alike)."""

from __future__ import annotations

import msgspec

from sendtrail.core.assembly.model import Attachment

from .content_rules import Surface


class Destination(msgspec.Struct, frozen=True, kw_only=True):
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.to, *self.cc, *self.bcc)


class SimpleContent(msgspec.Struct, frozen=True, kw_only=True, tag="simple"):
    subject: str
    subject_charset: str | None = None
    text: str | None = None
    text_charset: str | None = None
    html: str | None = None
    html_charset: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()


class RawContent(msgspec.Struct, frozen=True, kw_only=True, tag="raw"):
    data: bytes


class TemplateContent(msgspec.Struct, frozen=True, kw_only=True, tag="template"):
    """A stored template by name, or an inline one (v2 ``TemplateContent``)."""

    template_name: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    template_data: str = "{}"
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()


Content = SimpleContent | RawContent | TemplateContent


class FormattedMessage(msgspec.Struct, frozen=True, kw_only=True):
    """What acceptance keeps of a formatted or templated send to assemble it afterwards."""

    source: str
    destination: Destination
    reply_to: tuple[str, ...] = ()
    content: SimpleContent | TemplateContent


class SendRequest(msgspec.Struct, frozen=True, kw_only=True):
    surface: Surface
    operation: str  # SendEmail, SendRawEmail, SendTemplatedEmail
    content: Content
    # v1 Source / v2 FromEmailAddress / SMTP MAIL FROM; None lets a raw message's From decide.
    source: str | None = None
    destination: Destination | None = None  # formatted and templated sends
    destinations: tuple[str, ...] | None = None  # raw sends: v1 Destinations / RCPT TO
    reply_to: tuple[str, ...] = ()
    return_path: str | None = None
    feedback_forwarding_address: str | None = None
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    caller: str | None = None
    source_ip: str | None = None


RAW_OPERATION = "SendRawEmail"
_stored_encoder = msgspec.json.Encoder()
_formatted_decoder = msgspec.json.Decoder(FormattedMessage)


def encode_stored(request: SendRequest) -> bytes:
    """What acceptance stores of a request: a raw message as it came; for a formatted or
    templated send, what assembling it needs (addresses and content) as JSON."""
    content = request.content
    if isinstance(content, RawContent):
        return content.data
    return _stored_encoder.encode(
        FormattedMessage(
            source=request.source or "",
            destination=request.destination or Destination(),
            reply_to=request.reply_to,
            content=content,
        )
    )


def decode_stored(data: bytes, operation: str) -> RawContent | FormattedMessage:
    """The stored request again (``msgspec`` errors for bytes that are not one)."""
    if operation == RAW_OPERATION:
        return RawContent(data=data)
    formatted: FormattedMessage = _formatted_decoder.decode(data)
    return formatted


__all__ = [
    "Attachment",
    "Content",
    "Destination",
    "FormattedMessage",
    "RawContent",
    "SendRequest",
    "SimpleContent",
    "TemplateContent",
    "decode_stored",
    "encode_stored",
]
