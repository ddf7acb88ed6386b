"""A formatted or templated send, as acceptance kept it, in the shape assembly builds from."""

from __future__ import annotations

from sendtrail.core.acceptance.requests import FormattedMessage, SimpleContent
from sendtrail.core.acceptance.templates import RenderedTemplate
from sendtrail.core.assembly.model import Content, MessageHeader, SimpleMessage


def simple_message(
    formatted: FormattedMessage, rendered: RenderedTemplate | None = None
) -> SimpleMessage:
    """The message to build; a templated send passes its ``rendered`` parts."""
    content = formatted.content
    if isinstance(content, SimpleContent):
        subject = Content(content.subject, content.subject_charset)
        text = None if content.text is None else Content(content.text, content.text_charset)
        html = None if content.html is None else Content(content.html, content.html_charset)
    else:
        parts = rendered or RenderedTemplate(
            subject=content.subject, text=content.text, html=content.html
        )
        subject = Content(parts.subject or "")
        text = None if parts.text is None else Content(parts.text)
        html = None if parts.html is None else Content(parts.html)
    return SimpleMessage(
        from_address=formatted.source,
        to=formatted.destination.to,
        cc=formatted.destination.cc,
        reply_to=formatted.reply_to,
        subject=subject,
        text=text,
        html=html,
        headers=tuple(MessageHeader(name, value) for name, value in content.headers),
        attachments=content.attachments,
    )
