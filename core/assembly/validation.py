"""The v2 constraints on `Headers` and `Attachments` (BCv2), checked before assembly.

The API layer would reject these shapes while deserialising the request; checking them
here too means an embedded caller cannot build a message SES could never have sent.
"""

from __future__ import annotations

import re
from typing import Final

from sendtrail.core.acceptance import content_rules
from sendtrail.core.assembly.model import Attachment, InvalidContent, MessageHeader, SimpleMessage

MAX_HEADERS: Final = 15
MAX_HEADER_NAME_LENGTH: Final = 126
MAX_HEADER_VALUE_LENGTH: Final = 995
MAX_HEADER_NAME_AND_VALUE_LENGTH: Final = 996
MAX_FILE_NAME_LENGTH: Final = 255
MAX_CONTENT_DESCRIPTION_LENGTH: Final = 1000
MAX_CONTENT_ID_LENGTH: Final = 78
MAX_CONTENT_TYPE_LENGTH: Final = 78

# BCv2 patterns: a name is printable ASCII except ':', a value printable ASCII or space.
_HEADER_NAME: Final = re.compile(r"[!-9;-~]+")
_HEADER_VALUE: Final = re.compile(r"[ -~]*")
# A Content-ID is a msg-id: printable ASCII without blanks; the brackets are optional here.
_CONTENT_ID: Final = re.compile(r"<?[!-;=?-~]+>?")
# Line breaks (Unicode's too) in a file name or description would end the header they are
# written into.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def check_simple_message(message: SimpleMessage) -> None:
    """Raise `InvalidContent` for the first field outside its constraints, and SES's
    unsupported-attachment error for a banned file extension."""
    check_headers(message.headers)
    for index, attachment in enumerate(message.attachments):
        check_attachment(attachment, f"Attachments[{index}]")


def check_headers(headers: tuple[MessageHeader, ...]) -> None:
    if len(headers) > MAX_HEADERS:
        raise InvalidContent("Headers", f"at most {MAX_HEADERS} headers are allowed")
    for index, header in enumerate(headers):
        where = f"Headers[{index}]"
        if not 1 <= len(header.name) <= MAX_HEADER_NAME_LENGTH:
            raise InvalidContent(f"{where}.Name", "length must be 1 to 126")
        if _HEADER_NAME.fullmatch(header.name) is None:
            raise InvalidContent(f"{where}.Name", "only printable ASCII except ':' is allowed")
        if not 1 <= len(header.value) <= MAX_HEADER_VALUE_LENGTH:
            raise InvalidContent(f"{where}.Value", "length must be 1 to 995")
        if _HEADER_VALUE.fullmatch(header.value) is None:
            raise InvalidContent(f"{where}.Value", "only printable ASCII is allowed")
        if len(header.name) + len(header.value) > MAX_HEADER_NAME_AND_VALUE_LENGTH:
            raise InvalidContent(where, "name and value together exceed 996 characters")


def check_attachment(attachment: Attachment, where: str) -> None:
    if not 1 <= len(attachment.file_name) <= MAX_FILE_NAME_LENGTH:
        raise InvalidContent(f"{where}.FileName", "length must be 1 to 255")
    if _CONTROL.search(attachment.file_name):
        raise InvalidContent(f"{where}.FileName", "control characters are not allowed")
    description = attachment.content_description
    if description is not None and len(description) > MAX_CONTENT_DESCRIPTION_LENGTH:
        raise InvalidContent(f"{where}.ContentDescription", "at most 1000 characters")
    if description is not None and _CONTROL.search(description):
        raise InvalidContent(f"{where}.ContentDescription", "control characters are not allowed")
    content_id = attachment.content_id
    if content_id is not None and not 1 <= len(content_id) <= MAX_CONTENT_ID_LENGTH:
        raise InvalidContent(f"{where}.ContentId", "length must be 1 to 78")
    if content_id is not None and _CONTENT_ID.fullmatch(content_id) is None:
        raise InvalidContent(f"{where}.ContentId", "must be printable ASCII without blanks")
    content_type = attachment.content_type
    if content_type is not None and not 1 <= len(content_type) <= MAX_CONTENT_TYPE_LENGTH:
        raise InvalidContent(f"{where}.ContentType", "length must be 1 to 78")
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if "/" not in media_type or _CONTROL.search(content_type):
            raise InvalidContent(f"{where}.ContentType", "must be a MIME type such as text/csv")
        if media_type.startswith("multipart/"):
            # A multipart needs a boundary and an identity encoding: as an attachment it
            # would make readers split a base64 blob into parts.
            raise InvalidContent(f"{where}.ContentType", "an attachment cannot be multipart")
    # The same banned-extension rule as raw messages, with the same SES error.
    content_rules.check_attachment_filename(attachment.file_name)
