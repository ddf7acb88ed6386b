"""SES template rendering: Handlebars subset, strictness and SES's error texts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendtrail.core.acceptance.errors import Condition, SesError
from sendtrail.core.acceptance.templates import (
    MAX_TEMPLATE_DATA_LENGTH,
    EmailTemplate,
    RenderedTemplate,
    parse_template_data,
    render_template,
    validate_template,
)

# The DG's own example data (send-personalized-email-advanced).
DG_DATA = json.dumps(
    {
        "meta": {"userId": "51806220607"},
        "contact": {
            "firstName": "Anaya",
            "lastName": "Iyengar",
            "city": "Bengaluru",
            "country": "India",
            "postalCode": "560052",
        },
        "subscription": [{"interest": "Sports"}, {"interest": "Travel"}, {"interest": "Cooking"}],
    }
)


def render_text(text: str, data: str = DG_DATA) -> str:
    rendered = render_template(EmailTemplate(name="T", text=text), data)
    assert rendered.text is not None
    return rendered.text


def failure(text: str, data: str = DG_DATA) -> SesError:
    with pytest.raises(SesError) as caught:
        render_template(EmailTemplate(name="MyTemplate", text=text), data)
    return caught.value


def test_all_three_parts_are_rendered() -> None:
    # Given a template with subject, text and HTML parts
    template = EmailTemplate(
        name="Greeting",
        subject="Greetings, {{name}}!",
        text="Dear {{name}},\nYour favorite animal is {{favoriteanimal}}.",
        html="<h1>Hello {{name}},</h1><p>Your favorite animal is {{favoriteanimal}}.</p>",
    )
    # When rendered with the DG's example data
    rendered = render_template(template, '{"name":"Alejandro", "favoriteanimal": "alligator"}')
    # Then every part is filled in
    assert rendered == RenderedTemplate(
        subject="Greetings, Alejandro!",
        text="Dear Alejandro,\nYour favorite animal is alligator.",
        html="<h1>Hello Alejandro,</h1><p>Your favorite animal is alligator.</p>",
    )


def test_absent_parts_stay_absent() -> None:
    rendered = render_template(EmailTemplate(name="T", subject="Hi"), "{}")
    assert rendered == RenderedTemplate(subject="Hi", text=None, html=None)


def test_nested_attributes() -> None:
    assert render_text("Hello {{contact.firstName}}!") == "Hello Anaya!"
    assert render_text("{{contact/city}}, {{this.contact.country}}") == "Bengaluru, India"


def test_each_iterates_with_data_variables() -> None:
    text = "{{#each subscription}}{{@index}}.{{interest}}{{#unless @last}}, {{/unless}}{{/each}}"
    assert render_text(text) == "0.Sports, 1.Travel, 2.Cooking"


def test_each_over_an_object_exposes_keys() -> None:
    assert render_text("{{#each meta}}{{@key}}={{this}}{{/each}}") == "userId=51806220607"


def test_each_with_block_parameters_and_parent_access() -> None:
    text = "{{#each subscription as |s i|}}{{i}}:{{s.interest}}/{{../contact.firstName}} {{/each}}"
    assert render_text(text) == "0:Sports/Anaya 1:Travel/Anaya 2:Cooking/Anaya "


def test_each_over_an_empty_or_absent_list_renders_else() -> None:
    assert render_text("{{#each nothing}}x{{else}}none{{/each}}") == "none"
    assert render_text("{{#each list}}x{{else}}none{{/each}}", '{"list": []}') == "none"


def test_if_uses_the_presence_of_an_attribute() -> None:
    # The DG's conditional example: an absent attribute takes the else branch
    text = "{{#if favoriteanimal}}Fav: {{favoriteanimal}}{{else}}No favorite{{/if}}"
    assert render_text(text, '{"favoriteanimal": "ox"}') == "Fav: ox"
    assert render_text(text, "{}") == "No favorite"


@pytest.mark.parametrize(
    ("value", "branch"),
    [("0", "no"), ('""', "no"), ("[]", "no"), ("null", "no"), ("false", "no"), ("{}", "yes")],
)
def test_if_follows_handlebars_truthiness(value: str, branch: str) -> None:
    assert render_text("{{#if v}}yes{{else}}no{{/if}}", f'{{"v": {value}}}') == branch


def test_if_include_zero_and_else_if_chains() -> None:
    assert render_text("{{#if n includeZero=true}}zero{{/if}}", '{"n": 0}') == "zero"
    text = "{{#if a}}A{{else if b}}B{{else}}C{{/if}}"
    assert render_text(text, '{"b": 1}') == "B"
    assert render_text(text, "{}") == "C"


def test_inverted_helpers_and_root_access() -> None:
    assert render_text("{{^if vip}}regular{{else}}vip{{/if}}", '{"vip": false}') == "regular"
    assert render_text("{{^each l}}empty{{/each}}", '{"l": []}') == "empty"
    text = "{{#each subscription}}{{@root.contact.firstName}}{{/each}}"
    assert render_text(text) == "AnayaAnayaAnaya"


def test_with_changes_context() -> None:
    assert render_text("{{#with contact}}{{firstName}} {{lastName}}{{/with}}") == "Anaya Iyengar"


def test_inline_partials() -> None:
    # The DG's inline partial example, used twice
    text = (
        '{{#* inline "myPartial"}}Hello {{contact.firstName}}{{/inline}}'
        "{{> myPartial}}! {{> myPartial}}."
    )
    assert render_text(text) == "Hello Anaya! Hello Anaya."


def test_html_is_not_escaped_as_ses_documents() -> None:
    data = '{"html": "<b>Tom & Jerry</b>"}'
    assert render_text("{{html}} {{{html}}}", data) == "<b>Tom & Jerry</b> <b>Tom & Jerry</b>"


def test_values_print_as_javascript_would() -> None:
    data = '{"i": 3, "f": 1.5, "whole": 2.0, "t": true, "list": [1, "a"], "obj": {"k": 1}}'
    text = "{{i}} {{f}} {{whole}} {{t}} {{list}} {{obj}}"
    assert render_text(text, data) == "3 1.5 2 true 1,a [object Object]"


def test_standalone_block_lines_leave_no_blank_lines() -> None:
    text = "Items:\n{{#each subscription}}\n- {{interest}}\n{{/each}}\nEnd\n"
    assert render_text(text) == "Items:\n- Sports\n- Travel\n- Cooking\nEnd\n"


def test_comments_whitespace_control_and_escapes() -> None:
    assert render_text("a {{! note }}b {{!-- }} --}}c") == "a b c"
    assert render_text("a  {{~contact.firstName~}}  b") == "aAnayab"
    assert render_text("\\{{contact.firstName}}") == "{{contact.firstName}}"


def test_missing_attribute_gives_ses_rendering_failure_text() -> None:
    # Given a template printing an attribute the data lacks
    error = failure("Hello {{attributeName}}")
    # Then SES's Rendering Failure text is the message
    assert error.condition is Condition.MISSING_RENDERING_ATTRIBUTE
    assert error.code == "MissingRenderingAttribute"
    assert error.message == "Attribute 'attributeName' is not present in the rendering data."
    assert error.v2_type == "BadRequestException"


def test_missing_nested_attribute_names_the_path_as_written() -> None:
    assert failure("{{contact.middleName}}").message == (
        "Attribute 'contact.middleName' is not present in the rendering data."
    )


def test_null_value_counts_as_missing() -> None:
    # aws-sdk-js#2239: "website": null made SES drop the message with a rendering failure
    error = failure("{{website}}", '{"name": "James", "website": null}')
    assert error.message == "Attribute 'website' is not present in the rendering data."


def test_missing_attribute_inside_each_item() -> None:
    error = failure("{{#each subscription}}{{level}}{{/each}}")
    assert error.message == "Attribute 'level' is not present in the rendering data."


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"', "42", "null", "{"])
def test_template_data_must_be_a_json_object(data: str) -> None:
    error = failure("Hi", data)
    assert error.condition is Condition.INVALID_TEMPLATE_DATA
    assert error.code == "InvalidParameterValue"
    assert error.v2_type == "BadRequestException"


def test_template_data_length_limit() -> None:
    # Given TemplateData one character over the modelled maximum
    too_long = '{"k": "' + "x" * (MAX_TEMPLATE_DATA_LENGTH - 8) + '"}'
    assert len(too_long) == MAX_TEMPLATE_DATA_LENGTH + 1
    # Then the API's constraint error is raised
    with pytest.raises(SesError) as caught:
        parse_template_data(too_long)
    assert caught.value.condition is Condition.TEMPLATE_DATA_TOO_LONG
    assert caught.value.message.endswith("Member must have length less than or equal to 262144")
    assert parse_template_data(too_long[:-3] + '"}') is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{#if a}}open", "if on line 1 is never closed"),
        ("{{#if a}}x{{/each}}", "if doesn't match each on line 1"),
        ("{{> nowhere}}", "the partial nowhere could not be found"),
        ("{{format date}}", "missing helper: format (line 1)"),
        ("Hello {{name", "unclosed tag on line 1"),
    ],
)
def test_unrenderable_templates_are_invalid_template(text: str, reason: str) -> None:
    error = failure(text, '{"a": 1, "name": "x", "date": 1}')
    assert error.condition is Condition.INVALID_TEMPLATE
    assert error.code == "InvalidTemplate"
    assert error.message == f"Template MyTemplate could not be rendered: {reason}"


def test_validate_template_checks_syntax_without_data() -> None:
    validate_template(EmailTemplate(name="Ok", subject="{{a}}", html="{{#each b}}{{c}}{{/each}}"))
    with pytest.raises(SesError) as caught:
        validate_template(EmailTemplate(name="Bad", html="{{#each b}}"))
    assert caught.value.condition is Condition.INVALID_TEMPLATE


def test_a_partial_calling_itself_is_refused_not_a_crash() -> None:
    text = '{{#*inline "loop"}}{{> loop}}{{/inline}}{{> loop}}'
    assert failure(text).condition is Condition.INVALID_TEMPLATE


safe_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=40
).filter(lambda s: not set(s) & set("{}\\"))
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(before=safe_text, name=names, value=safe_text, after=safe_text)
def test_any_string_value_is_substituted_verbatim(
    before: str, name: str, value: str, after: str
) -> None:
    # Given text around one placeholder and any string value for it
    data = json.dumps({name: value})
    # Then rendering puts the value in place and leaves the rest untouched
    assert render_text(before + "{{" + name + "}}" + after, data) == before + value + after
