"""v1 templates."""

from __future__ import annotations

from typing import Final

from sendtrail.core import resources as res

from .paging import page_of, page_size
from .v1_call import V1Call, V1Handler, V1Result, missing

MAX_ITEMS: Final = 100  # BCv1 ListTemplates: at most 100 per page


def _template(call: V1Call) -> res.Template:
    params = call.params
    if not params.has("Template"):
        raise missing("Template")
    return res.Template(
        name=params.required("Template.TemplateName"),
        created_at=call.app.clock.now(),
        subject=params.text("Template.SubjectPart"),
        text=params.text("Template.TextPart"),
        html=params.text("Template.HtmlPart"),
    )


async def create_template(call: V1Call) -> V1Result:
    template = _template(call)
    await call.context.manage(lambda: call.app.account.create_template(template, actor=call.caller))
    return {}


async def update_template(call: V1Call) -> V1Result:
    template = _template(call)
    await call.context.manage(lambda: call.app.account.update_template(template, actor=call.caller))
    return {}


async def get_template(call: V1Call) -> V1Result:
    template = call.app.account.template(call.params.required("TemplateName"))
    return {
        "Template": {
            "TemplateName": template.name,
            "SubjectPart": template.subject,
            "TextPart": template.text,
            "HtmlPart": template.html,
        }
    }


async def delete_template(call: V1Call) -> V1Result:
    name = call.params.required("TemplateName")
    # v1 declares no error here: deleting a template SES does not have succeeds.
    await call.context.manage(
        lambda: call.app.account.delete_template(name, actor=call.caller, missing_ok=True)
    )
    return {}


async def list_templates(call: V1Call) -> V1Result:
    params = call.params
    page, token = page_of(
        call.app.account.templates(),
        lambda template: template.name,
        next_token=params.text("NextToken"),
        size=page_size(params.integer("MaxItems"), maximum=MAX_ITEMS, name="MaxItems"),
    )
    return {
        "TemplatesMetadata": [
            {"Name": template.name, "CreatedTimestamp": template.created_at} for template in page
        ],
        "NextToken": token,
    }


ACTIONS: dict[str, V1Handler] = {
    "CreateTemplate": create_template,
    "GetTemplate": get_template,
    "UpdateTemplate": update_template,
    "DeleteTemplate": delete_template,
    "ListTemplates": list_templates,
}
