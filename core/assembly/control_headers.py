"""The X-SES-* headers through which a raw message instructs SES (configuration set,
tags, sending authorisation, list management). SES reads them and removes them before
sending (`finalize` does the removing)."""

from __future__ import annotations

from typing import Final

import msgspec

from sendtrail.core.assembly.header_block import split_header_block

CONFIGURATION_SET_HEADER: Final = "X-SES-CONFIGURATION-SET"
MESSAGE_TAGS_HEADER: Final = "X-SES-MESSAGE-TAGS"
SOURCE_ARN_HEADER: Final = "X-SES-SOURCE-ARN"
FROM_ARN_HEADER: Final = "X-SES-FROM-ARN"
RETURN_PATH_ARN_HEADER: Final = "X-SES-RETURN-PATH-ARN"
# The raw-message and SMTP form of v2 ListManagementOptions (DG:sending-email-subscription-
# management), e.g. `contactListName; topic=weekly`.
LIST_MANAGEMENT_HEADER: Final = "X-SES-LIST-MANAGEMENT-OPTIONS"

CONTROL_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        CONFIGURATION_SET_HEADER,
        MESSAGE_TAGS_HEADER,
        SOURCE_ARN_HEADER,
        FROM_ARN_HEADER,
        RETURN_PATH_ARN_HEADER,
        LIST_MANAGEMENT_HEADER,
    )
)


class ControlHeaders(msgspec.Struct, frozen=True):
    """What a raw message asks of SES (first occurrence of each header)."""

    configuration_set: str | None = None
    message_tags: tuple[tuple[str, str], ...] = ()
    source_arn: str | None = None
    from_arn: str | None = None
    return_path_arn: str | None = None
    list_management_options: str | None = None


def read_control_headers(raw: bytes) -> ControlHeaders:
    """The X-SES-* instructions of a raw message. Tag names and values are returned as
    written; checking them against the MessageTag rules is acceptance's job."""
    values: dict[str, str] = {}
    for field in split_header_block(raw).fields:
        if field.key in CONTROL_HEADERS and field.key not in values:
            values[field.key] = field.unfolded_value().decode("ascii", "replace")
    return ControlHeaders(
        configuration_set=values.get(CONFIGURATION_SET_HEADER.lower()),
        message_tags=parse_message_tags(values.get(MESSAGE_TAGS_HEADER.lower(), "")),
        source_arn=values.get(SOURCE_ARN_HEADER.lower()),
        from_arn=values.get(FROM_ARN_HEADER.lower()),
        return_path_arn=values.get(RETURN_PATH_ARN_HEADER.lower()),
        list_management_options=values.get(LIST_MANAGEMENT_HEADER.lower()),
    )


def parse_message_tags(value: str) -> tuple[tuple[str, str], ...]:
    """`name1=value1, name2=value2` (the form in DG:event-publishing examples)."""
    tags: list[tuple[str, str]] = []
    for item in value.split(","):
        name, _, tag_value = item.strip().partition("=")
        if name:
            tags.append((name.strip(), tag_value.strip()))
    return tuple(tags)
