"""Query-protocol (v1) responses: ``<OpResponse><OpResult>...`` as botocore's parser reads it.

Values map to XML as botocore's query parser expects them: a ``list`` is a sequence of
``<member>`` elements, an ``XmlMap`` a sequence of ``<entry><key/><value/></entry>``, a
``dict`` a structure (members in insertion order), ``None`` is left out, booleans are
``true``/``false`` and datetimes ISO 8601 in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from xml.sax.saxutils import escape as _escape

NAMESPACE: Final = "http://ses.amazonaws.com/doc/2010-12-01/"
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class XmlMap(dict[str, object]):
    """A map shape (``VerificationAttributes``...), rendered as entries."""


def escape(text: str) -> str:
    return _escape(_NOT_XML.sub("\ufffd", text))


def render_response(action: str, result: Mapping[str, object] | None, request_id: str) -> str:
    parts = [f'<{action}Response xmlns="{NAMESPACE}">']
    if result is not None:
        parts.append(f"<{action}Result>")
        _members(result, parts)
        parts.append(f"</{action}Result>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{action}Response>")
    return "".join(parts)


def _members(structure: Mapping[str, object], parts: list[str]) -> None:
    for name, value in structure.items():
        if value is not None:
            parts.append(f"<{name}>")
            _value(value, parts)
            parts.append(f"</{name}>")


def _value(value: object, parts: list[str]) -> None:
    if isinstance(value, XmlMap):
        for key, item in value.items():
            parts.append(f"<entry><key>{escape(key)}</key><value>")
            _value(item, parts)
            parts.append("</value></entry>")
    elif isinstance(value, Mapping):
        _members(value, parts)
    elif isinstance(value, list | tuple):
        for item in value:
            parts.append("<member>")
            _value(item, parts)
            parts.append("</member>")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, datetime):
        parts.append(iso_timestamp(value))
    else:
        parts.append(escape(str(value)))


def iso_timestamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"
