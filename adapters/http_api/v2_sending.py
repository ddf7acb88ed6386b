"""v2 ``SendEmail`` (``POST /v2/email/outbound-emails``): Simple, Raw or Template content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.requests import (
    Attachment,
    Content,
    Destination,
    RawContent,
    SendRequest,
    SimpleContent,
    TemplateContent,
)
from sendtrail.core.assembly.model import Disposition, TransferEncoding

from .v2_call import Route, Shape, V2Call


class TextPart(Shape, frozen=True):
    data: str
    charset: str | None = None


class Body(Shape, frozen=True):
    text: TextPart | None = None
    html: TextPart | None = None


class MessageHeader(Shape, frozen=True):
    name: str
    value: str


class AttachmentShape(Shape, frozen=True):
    raw_content: bytes
    file_name: str
    content_disposition: Literal["ATTACHMENT", "INLINE"] = "ATTACHMENT"
    content_description: str | None = None
    content_id: str | None = None
    content_transfer_encoding: Literal["BASE64", "QUOTED_PRINTABLE", "SEVEN_BIT"] | None = None
    content_type: str | None = None


class Message(Shape, frozen=True):
    subject: TextPart
    body: Body
    headers: list[MessageHeader] = []
    attachments: list[AttachmentShape] = []


class RawMessage(Shape, frozen=True):
    data: bytes


class TemplateText(Shape, frozen=True):
    subject: str | None = None
    text: str | None = None
    html: str | None = None


class Template(Shape, frozen=True):
    template_name: str | None = None
    template_arn: str | None = None
    template_content: TemplateText | None = None
    template_data: str | None = None
    headers: list[MessageHeader] = []
    attachments: list[AttachmentShape] = []


class EmailContent(Shape, frozen=True):
    simple: Message | None = None
    raw: RawMessage | None = None
    template: Template | None = None


class DestinationShape(Shape, frozen=True):
    to_addresses: list[str] = []
    cc_addresses: list[str] = []
    bcc_addresses: list[str] = []


class MessageTag(Shape, frozen=True):
    name: str
    value: str


class SendEmailRequest(Shape, frozen=True):
    content: EmailContent
    from_email_address: str | None = None
    destination: DestinationShape | None = None
    reply_to_addresses: list[str] = []
    feedback_forwarding_email_address: str | None = None
    email_tags: list[MessageTag] = []
    configuration_set_name: str | None = None


async def send_email(call: V2Call) -> Mapping[str, object]:
    body = await call.body(SendEmailRequest)
    operation, content = _content(body.content)
    destination = body.destination
    request = SendRequest(
        surface=Surface.V2_API,
        operation=operation,
        content=content,
        source=body.from_email_address,
        destination=(
            Destination(
                to=tuple(destination.to_addresses),
                cc=tuple(destination.cc_addresses),
                bcc=tuple(destination.bcc_addresses),
            )
            if destination is not None
            else None
        ),
        # A raw message's recipients are its Destination if given, else its headers.
        destinations=(
            tuple(_all(destination)) if isinstance(content, RawContent) and destination else None
        ),
        reply_to=tuple(body.reply_to_addresses),
        feedback_forwarding_address=body.feedback_forwarding_email_address,
        configuration_set=body.configuration_set_name,
        tags=tuple((tag.name, tag.value) for tag in body.email_tags),
        caller=call.caller,
        source_ip=call.source_ip,
    )
    return {"MessageId": await call.app.sender.send(request)}


def _content(content: EmailContent) -> tuple[str, Content]:
    given = [part for part in (content.simple, content.raw, content.template) if part is not None]
    if len(given) != 1:
        raise errors.bad_request("Content must contain exactly one of Simple, Raw or Template.")
    if content.simple is not None:
        message = content.simple
        return "SendEmail", SimpleContent(
            subject=message.subject.data,
            subject_charset=message.subject.charset,
            text=message.body.text.data if message.body.text else None,
            text_charset=message.body.text.charset if message.body.text else None,
            html=message.body.html.data if message.body.html else None,
            html_charset=message.body.html.charset if message.body.html else None,
            headers=tuple((header.name, header.value) for header in message.headers),
            attachments=tuple(_attachment(item) for item in message.attachments),
        )
    if content.raw is not None:
        return "SendRawEmail", RawContent(data=content.raw.data)
    assert content.template is not None
    return "SendTemplatedEmail", _template(content.template)


def _template(template: Template) -> TemplateContent:
    name = template.template_name
    if name is None and template.template_arn:
        # arn:aws:ses:REGION:ACCOUNT:template/NAME names the template too.
        name = template.template_arn.rpartition("/")[2] or None
    inline = template.template_content
    if name is None and inline is None:
        raise errors.bad_request(
            "Template must contain a TemplateName, a TemplateArn or a TemplateContent."
        )
    return TemplateContent(
        template_name=name,
        subject=inline.subject if inline and name is None else None,
        text=inline.text if inline and name is None else None,
        html=inline.html if inline and name is None else None,
        template_data=template.template_data or "{}",
        headers=tuple((header.name, header.value) for header in template.headers),
        attachments=tuple(_attachment(item) for item in template.attachments),
    )


def _attachment(shape: AttachmentShape) -> Attachment:
    # Left out, the transfer encoding is the engine's default (BASE64), as in SES.
    encoding = shape.content_transfer_encoding
    return Attachment(
        raw_content=shape.raw_content,
        file_name=shape.file_name,
        content_disposition=Disposition(shape.content_disposition),
        content_description=shape.content_description,
        content_id=shape.content_id,
        content_type=shape.content_type,
        **({"content_transfer_encoding": TransferEncoding(encoding)} if encoding else {}),
    )


def _all(destination: DestinationShape) -> list[str]:
    return [*destination.to_addresses, *destination.cc_addresses, *destination.bcc_addresses]


ROUTES = [Route("POST", "/v2/email/outbound-emails", send_email)]
