"""v1 ``SendEmail``, ``SendRawEmail`` and ``SendTemplatedEmail``."""

from __future__ import annotations

from sendtrail.core.acceptance.content_rules import Surface
from sendtrail.core.acceptance.requests import (
    Content,
    Destination,
    RawContent,
    SendRequest,
    SimpleContent,
    TemplateContent,
)

from .v1_call import QueryParams, V1Call, V1Handler, V1Result, missing


async def send_email(call: V1Call) -> V1Result:
    params = call.params
    if not params.has("Message"):
        raise missing("Message")
    content = SimpleContent(
        subject=params.required("Message.Subject.Data"),
        subject_charset=params.text("Message.Subject.Charset"),
        text=params.text("Message.Body.Text.Data"),
        text_charset=params.text("Message.Body.Text.Charset"),
        html=params.text("Message.Body.Html.Data"),
        html_charset=params.text("Message.Body.Html.Charset"),
    )
    return await _send(call, "SendEmail", content)


async def send_templated_email(call: V1Call) -> V1Result:
    params = call.params
    content = TemplateContent(
        template_name=params.required("Template"),
        template_data=params.required("TemplateData"),
    )
    return await _send(call, "SendTemplatedEmail", content)


async def send_raw_email(call: V1Call) -> V1Result:
    params = call.params
    # Destinations left out: the message's To, Cc and Bcc headers name the recipients.
    destinations = tuple(params.members("Destinations")) if params.has("Destinations") else None
    content = RawContent(data=params.blob("RawMessage.Data"))
    request = SendRequest(
        surface=Surface.V1_API,
        operation="SendRawEmail",
        content=content,
        source=params.text("Source"),
        destinations=destinations,
        configuration_set=params.text("ConfigurationSetName"),
        tags=_tags(params),
        caller=call.caller,
        source_ip=call.source_ip,
    )
    return {"MessageId": await call.app.sender.send(request)}


async def _send(call: V1Call, operation: str, content: Content) -> V1Result:
    params = call.params
    source = params.required("Source")
    if not params.has("Destination"):
        raise missing("Destination")
    request = SendRequest(
        surface=Surface.V1_API,
        operation=operation,
        content=content,
        source=source,
        destination=Destination(
            to=tuple(params.members("Destination.ToAddresses")),
            cc=tuple(params.members("Destination.CcAddresses")),
            bcc=tuple(params.members("Destination.BccAddresses")),
        ),
        reply_to=tuple(params.members("ReplyToAddresses")),
        return_path=params.text("ReturnPath"),
        configuration_set=params.text("ConfigurationSetName"),
        tags=_tags(params),
        caller=call.caller,
        source_ip=call.source_ip,
    )
    return {"MessageId": await call.app.sender.send(request)}


def _tags(params: QueryParams) -> tuple[tuple[str, str], ...]:
    return tuple((tag.get("Name", ""), tag.get("Value", "")) for tag in params.structures("Tags"))


ACTIONS: dict[str, V1Handler] = {
    "SendEmail": send_email,
    "SendRawEmail": send_raw_email,
    "SendTemplatedEmail": send_templated_email,
}
