"""Judging a send request as SES does: accept it (with what the engine records) or raise.

Pure: the account's resources and settings come in as ``SendContext``. Checks run from the
request's own shape outwards: addresses, recipients and content first, then the
configuration set, the account's pause, the template, and last the identities; quotas are
the caller's (they carry state between requests).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from sendtrail.core.assembly.formatted import simple_message
from sendtrail.core.assembly.model import InvalidContent
from sendtrail.core.assembly.validation import check_simple_message
from sendtrail.core.resources import ConfigurationSet, Template

from . import errors
from .addresses import EmailAddress, parse_address
from .content_rules import (
    Surface,
    check_message_size,
    check_recipient_count,
    inspect_raw_message,
)
from .identities import VerifiedIdentities, check_identities
from .requests import (
    Destination,
    FormattedMessage,
    RawContent,
    SendRequest,
    SimpleContent,
    TemplateContent,
)
from .simulator import simulator_scenario

CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"
TAGS_HEADER = "X-SES-MESSAGE-TAGS"


class SendContext(msgspec.Struct, frozen=True, kw_only=True):
    region: str
    verified: VerifiedIdentities
    sandbox: bool = False
    simulator_domains: tuple[str, ...] = ("simulator.amazonses.com",)
    account_sending_enabled: bool = True
    configuration_sets: Mapping[str, ConfigurationSet] = {}
    templates: Mapping[str, Template] = {}


class AcceptedSend(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine records for an accepted request."""

    source: str  # as SES shows it in notifications' mail.source
    recipients: tuple[str, ...]  # bare addresses, each once, in request order
    simulator_recipients: int
    feedback_address: str
    configuration_set: ConfigurationSet | None
    tags: tuple[tuple[str, str], ...]
    template: Template | None = None


def check_send(request: SendRequest, context: SendContext) -> AcceptedSend:
    content = request.content
    if isinstance(content, RawContent):
        return _check_raw(request, content, context)
    return _check_formatted(request, content, context)


def _check_formatted(
    request: SendRequest, content: SimpleContent | TemplateContent, context: SendContext
) -> AcceptedSend:
    if request.source is None:
        raise errors.missing_required_header("From")
    source = parse_address(request.source)
    destination = request.destination
    listed = destination.all if destination else ()
    recipients = [parse_address(address) for address in listed]
    for address in request.reply_to:
        parse_address(address)  # only for its errors: SES refuses a malformed Reply-To too
    return_path = parse_address(request.return_path) if request.return_path else None
    _check_recipient_count(recipients)
    check_message_size(_formatted_size(content), request.surface)
    _check_buildable(request, content)
    configuration_set = _configuration_set(request.configuration_set, context)
    _check_account(context)
    template = _template(content, context) if isinstance(content, TemplateContent) else None
    senders = [source] + ([return_path] if return_path else [])
    _check_identities(senders, recipients, context)
    feedback = request.feedback_forwarding_address or request.return_path or request.source
    return _accepted(
        request.source, recipients, feedback, configuration_set, request.tags, context, template
    )


def _check_raw(request: SendRequest, content: RawContent, context: SendContext) -> AcceptedSend:
    facts = inspect_raw_message(
        content.data,
        surface=request.surface,
        envelope_from=request.source,
        envelope_recipients=request.destinations,
    )
    _check_recipient_count(list(facts.recipients))
    named_set = request.configuration_set or _first(facts.header_values(CONFIGURATION_SET_HEADER))
    configuration_set = _configuration_set(named_set, context)
    _check_account(context)
    envelope = parse_address(request.source) if request.source else None
    senders = [
        *([envelope] if envelope else []),
        *facts.from_addresses,
        *([facts.sender] if facts.sender else []),
        *([facts.return_path] if facts.return_path else []),
    ]
    _check_identities(senders, list(facts.recipients), context)
    source = request.source or facts.from_addresses[0].original
    feedback = (
        request.feedback_forwarding_address
        or request.source
        or (facts.return_path.address if facts.return_path else None)
        or facts.from_addresses[0].address
    )
    # API tags replace header tags; the two are never merged (SES's rule for SendRawEmail).
    tags = request.tags or parse_tags_header(_first(facts.header_values(TAGS_HEADER)))
    return _accepted(source, list(facts.recipients), feedback, configuration_set, tags, context)


def parse_tags_header(value: str | None) -> tuple[tuple[str, str], ...]:
    """``X-SES-MESSAGE-TAGS: name1=value1, name2=value2``."""
    if not value:
        return ()
    tags = []
    for item in value.split(","):
        name, equals, tag_value = item.strip().partition("=")
        if equals and name.strip():
            tags.append((name.strip(), tag_value.strip()))
    return tuple(tags)


def _accepted(
    source: str,
    recipients: list[EmailAddress],
    feedback: str,
    configuration_set: ConfigurationSet | None,
    tags: tuple[tuple[str, str], ...],
    context: SendContext,
    template: Template | None = None,
) -> AcceptedSend:
    unique = list(dict.fromkeys(address.address for address in recipients))
    simulated = sum(
        1 for address in unique if simulator_scenario(address, context.simulator_domains)
    )
    return AcceptedSend(
        source=source,
        recipients=tuple(unique),
        simulator_recipients=simulated,
        feedback_address=feedback,
        configuration_set=configuration_set,
        tags=tags,
        template=template,
    )


def _check_recipient_count(recipients: list[EmailAddress]) -> None:
    if not recipients:
        raise errors.no_recipients()
    check_recipient_count(len(recipients))


def _check_buildable(request: SendRequest, content: SimpleContent | TemplateContent) -> None:
    """Fields assembly would refuse (v2 Headers and Attachments limits, a text its charset
    cannot encode) are refused now, so that nothing accepted fails to build later."""
    charsets = (
        (content.subject_charset, content.text_charset, content.html_charset)
        if isinstance(content, SimpleContent)
        else ()
    )
    if not content.headers and not content.attachments and not any(charsets):
        return  # plain texts in UTF-8: nothing that could fail to build
    formatted = FormattedMessage(
        source=request.source or "",
        destination=request.destination or Destination(),
        reply_to=request.reply_to,
        content=content,
    )
    try:
        check_simple_message(simple_message(formatted))
    except InvalidContent as invalid:
        raise errors.invalid_content(invalid.field, invalid.reason) from None


def _formatted_size(content: SimpleContent | TemplateContent) -> int:
    """What the assembled message will weigh: text, and attachments after base64."""
    texts = (
        (content.subject, content.text, content.html)
        if isinstance(content, SimpleContent)
        else (content.subject, content.text, content.html, content.template_data)
    )
    size = sum(len(text.encode()) for text in texts if text)
    size += sum(len(name) + len(value) + 4 for name, value in content.headers)
    return size + sum((len(a.raw_content) + 2) // 3 * 4 for a in content.attachments)


def _configuration_set(name: str | None, context: SendContext) -> ConfigurationSet | None:
    if name is None:
        return None
    configuration_set = context.configuration_sets.get(name)
    if configuration_set is None:
        raise errors.configuration_set_missing(name)
    if not configuration_set.sending_enabled:
        raise errors.configuration_set_paused(name)
    return configuration_set


def _check_account(context: SendContext) -> None:
    if not context.account_sending_enabled:
        raise errors.account_paused()


def _template(content: TemplateContent, context: SendContext) -> Template | None:
    if content.template_name is None:
        return None
    template = context.templates.get(content.template_name)
    if template is None:
        raise errors.template_missing(content.template_name)
    return template


def _check_identities(
    senders: list[EmailAddress], recipients: list[EmailAddress], context: SendContext
) -> None:
    check_identities(
        region=context.region,
        verified=context.verified,
        senders=senders,
        recipients=recipients,
        sandbox=context.sandbox,
        simulator_domains=context.simulator_domains,
    )


def _first(values: list[str]) -> str | None:
    return values[0].strip() if values else None


__all__ = ["AcceptedSend", "SendContext", "Surface", "check_send", "parse_tags_header"]
