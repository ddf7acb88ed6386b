"""What a formatted ("Simple") send asks for, in the shape of the v2 `Message` and
`Attachment` types (BCv2); v1 SendEmail and rendered templates map onto it too.

Field names are the API's in snake case; enum values are the API's strings, so a request
decoded from JSON maps one to one.
"""

from __future__ import annotations

import enum

import msgspec


class Disposition(enum.StrEnum):
    ATTACHMENT = "ATTACHMENT"
    INLINE = "INLINE"


class TransferEncoding(enum.StrEnum):
    BASE64 = "BASE64"
    QUOTED_PRINTABLE = "QUOTED_PRINTABLE"
    SEVEN_BIT = "SEVEN_BIT"


class Content(msgspec.Struct, frozen=True):
    """v1/v2 `Content{Data, Charset}`: a subject or a body."""

    data: str
    # None: US-ASCII when the text is ASCII, else UTF-8. BCv2 says SES uses 7-bit ASCII by
    # default and asks for a charset otherwise; what it does without one is UNCONFIRMED,
    # and UTF-8 is the choice that never loses a character.
    charset: str | None = None


class MessageHeader(msgspec.Struct, frozen=True):
    """v2 `MessageHeader{Name, Value}`."""

    name: str
    value: str


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """v2 `Attachment`."""

    raw_content: bytes
    file_name: str
    content_disposition: Disposition = Disposition.ATTACHMENT
    content_description: str | None = None
    content_id: str | None = None  # with or without the angle brackets
    content_transfer_encoding: TransferEncoding = TransferEncoding.BASE64
    content_type: str | None = None  # guessed from the file name when absent


class SimpleMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A formatted message. There is deliberately no Bcc: Bcc recipients are envelope
    recipients only and never appear in the message."""

    from_address: str  # v2 FromEmailAddress / v1 Source, as given (display name included)
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: Content
    text: Content | None = None
    html: Content | None = None
    headers: tuple[MessageHeader, ...] = ()  # v2 Simple/Template `Headers`
    attachments: tuple[Attachment, ...] = ()


class InvalidContent(ValueError):
    """A formatted message SES would refuse before building it: a v2 field outside its
    documented constraints, or a text that its charset cannot encode. `field` names the
    request member, e.g. `Content.Simple.Headers[2].Name`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
