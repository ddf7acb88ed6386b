"""v2 email templates."""

from __future__ import annotations

from collections.abc import Mapping

from sendtrail.core import resources as res

from .paging import page_of, page_size
from .v2_call import Route, Shape, Tag, V2Call

MAX_PAGE_SIZE = 100  # BCv2 ListEmailTemplates: at most 100 per page


class TemplateContent(Shape, frozen=True):
    subject: str | None = None
    text: str | None = None
    html: str | None = None


class CreateEmailTemplateRequest(Shape, frozen=True):
    template_name: str
    template_content: TemplateContent
    tags: list[Tag] = []


class UpdateEmailTemplateRequest(Shape, frozen=True):
    template_content: TemplateContent


async def create_email_template(call: V2Call) -> Mapping[str, object]:
    body = await call.body(CreateEmailTemplateRequest)
    template = _template(call, body.template_name, body.template_content)
    await call.context.manage(lambda: call.app.account.create_template(template, actor=call.caller))
    return {}


async def get_email_template(call: V2Call) -> Mapping[str, object]:
    template = call.app.account.template(call.path("TemplateName"))
    return {
        "TemplateName": template.name,
        "TemplateContent": {
            "Subject": template.subject,
            "Text": template.text,
            "Html": template.html,
        },
        "Tags": [],
    }


async def update_email_template(call: V2Call) -> Mapping[str, object]:
    body = await call.body(UpdateEmailTemplateRequest)
    template = _template(call, call.path("TemplateName"), body.template_content)
    await call.context.manage(lambda: call.app.account.update_template(template, actor=call.caller))
    return {}


async def delete_email_template(call: V2Call) -> Mapping[str, object]:
    name = call.path("TemplateName")
    await call.context.manage(lambda: call.app.account.delete_template(name, actor=call.caller))
    return {}


async def list_email_templates(call: V2Call) -> Mapping[str, object]:
    page, token = page_of(
        call.app.account.templates(),
        lambda template: template.name,
        next_token=call.query("NextToken"),
        size=page_size(call.query_int("PageSize"), maximum=MAX_PAGE_SIZE),
    )
    return {
        "TemplatesMetadata": [
            {"TemplateName": template.name, "CreatedTimestamp": template.created_at}
            for template in page
        ],
        "NextToken": token,
    }


def _template(call: V2Call, name: str, content: TemplateContent) -> res.Template:
    return res.Template(
        name=name,
        created_at=call.app.clock.now(),
        subject=content.subject,
        text=content.text,
        html=content.html,
    )


ROUTES = [
    Route("POST", "/v2/email/templates", create_email_template),
    Route("GET", "/v2/email/templates", list_email_templates),
    Route("GET", "/v2/email/templates/{TemplateName}", get_email_template),
    Route("PUT", "/v2/email/templates/{TemplateName}", update_email_template),
    Route("DELETE", "/v2/email/templates/{TemplateName}", delete_email_template),
]
