"""SES email templates rendered with `TemplateData`.

`render_template` returns the rendered parts or raises a `SesError`:
- `TemplateData` over 262,144 characters: the API's length constraint;
- `TemplateData` that is not a JSON object: `invalid_template_data` (InvalidParameterValue
  / BadRequestException; TestRenderTemplate reports the same condition as
  InvalidRenderingParameter);
- a printed attribute with no value: `missing_rendering_attribute`, text
  `Attribute 'x' is not present in the rendering data.`. On a send SES still accepts the
  message and publishes a Rendering Failure event with that text; on TestRenderTemplate it
  is the MissingRenderingAttribute error. The engine chooses by operation;
- a template that cannot be rendered at all: `invalid_template` (InvalidTemplate).

Which Handlebars features are supported, and how strict rendering is: see `handlebars`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sendtrail.core.acceptance import errors, handlebars

MAX_TEMPLATE_DATA_LENGTH = 262_144  # BCv1/BCv2 TemplateData


class EmailTemplate(msgspec.Struct, frozen=True):
    """A stored template (v1 `Template`, v2 `EmailTemplateContent` plus its name)."""

    name: str
    subject: str | None = None  # SubjectPart
    text: str | None = None  # TextPart
    html: str | None = None  # HtmlPart


class RenderedTemplate(msgspec.Struct, frozen=True):
    subject: str | None
    text: str | None
    html: str | None


def parse_template_data(template_data: str) -> dict[str, Any]:
    """Decode `TemplateData`, which must be a JSON object."""
    if len(template_data) > MAX_TEMPLATE_DATA_LENGTH:
        raise errors.template_data_too_long(MAX_TEMPLATE_DATA_LENGTH)
    try:
        data = msgspec.json.decode(template_data)
    except msgspec.DecodeError:
        raise errors.invalid_template_data() from None
    if not isinstance(data, dict):
        raise errors.invalid_template_data()
    return data


def validate_template(template: EmailTemplate) -> None:
    """Raise `invalid_template` if any part cannot be parsed (for CreateTemplate)."""
    for part in (template.subject, template.text, template.html):
        if part is not None:
            try:
                handlebars.parse(part)
            except handlebars.TemplateSyntaxError as exc:
                raise errors.invalid_template(template.name, str(exc)) from None


def render_template(template: EmailTemplate, template_data: str) -> RenderedTemplate:
    """Render every part of `template` with `template_data` (a JSON object string)."""
    data = parse_template_data(template_data)
    return RenderedTemplate(
        subject=_render_part(template, template.subject, data),
        text=_render_part(template, template.text, data),
        html=_render_part(template, template.html, data),
    )


def _render_part(template: EmailTemplate, part: str | None, data: dict[str, Any]) -> str | None:
    if part is None:
        return None
    try:
        return handlebars.render(part, data)
    except handlebars.MissingAttributeError as exc:
        raise errors.missing_rendering_attribute(exc.path) from None
    except handlebars.TemplateSyntaxError as exc:
        raise errors.invalid_template(template.name, str(exc)) from None
