"""The v1 (Query protocol) plumbing: form parameters in, an action's result out.

botocore flattens a request into form fields: nested members as ``A.B.C``, lists as
``X.member.N`` (an empty list as ``X=`` alone), booleans as ``true``/``false`` and blobs as
base64. ``QueryParams`` reads them back by the same rules.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sendtrail.adapters.app import App
from sendtrail.core.acceptance import errors

from .context import ApiContext

_MEMBER = re.compile(r"\.member\.(\d+)(?:\.(.+))?$")


def missing(name: str) -> errors.SesError:
    # AWS's generic text for a required member left out, the member's path in lowerCamelCase.
    member = ".".join(part[:1].lower() + part[1:] for part in name.split("."))
    return errors.bad_request(
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
        "Member must not be null",
        v1_code="ValidationError",
    )


class QueryParams:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values = dict(pairs)

    @property
    def action(self) -> str | None:
        return self._values.get("Action")

    def text(self, name: str) -> str | None:
        return self._values.get(name)

    def required(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise missing(name)
        return value

    def flag(self, name: str, *, required: bool = False) -> bool | None:
        value = self._values.get(name)
        if value is None:
            if required:
                raise missing(name)
            return None
        if value.lower() not in ("true", "false"):
            raise errors.bad_request(f"{name} must be true or false, not '{value}'.")
        return value.lower() == "true"

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise errors.bad_request(f"{name} must be an integer, not '{value}'.") from None

    def blob(self, name: str) -> bytes:
        # Some SDKs wrap base64 in lines; whitespace is never part of the data.
        try:
            return base64.b64decode("".join(self.required(name).split()), validate=True)
        except (binascii.Error, ValueError):
            raise errors.bad_request(f"{name} is not valid base64.") from None

    def has(self, prefix: str) -> bool:
        return prefix in self._values or any(key.startswith(f"{prefix}.") for key in self._values)

    def members(self, prefix: str) -> list[str]:
        """``prefix.member.1``, ``prefix.member.2``... in order of N."""
        found: dict[int, str] = {}
        for key, value in self._values.items():
            if key.startswith(prefix):
                match = _MEMBER.match(key, len(prefix))
                if match is not None and match.group(2) is None:
                    found[int(match.group(1))] = value
        return [found[index] for index in sorted(found)]

    def structures(self, prefix: str) -> list[dict[str, str]]:
        """``prefix.member.N.Field`` as one dict of fields per N, in order of N."""
        found: dict[int, dict[str, str]] = {}
        for key, value in self._values.items():
            if key.startswith(prefix):
                match = _MEMBER.match(key, len(prefix))
                if match is not None and match.group(2) is not None:
                    found.setdefault(int(match.group(1)), {})[match.group(2)] = value
        return [found[index] for index in sorted(found)]


@dataclass(frozen=True)
class V1Call:
    context: ApiContext
    params: QueryParams
    caller: str
    source_ip: str | None

    @property
    def app(self) -> App:
        return self.context.app


V1Result = Mapping[str, object] | None
V1Handler = Callable[[V1Call], Awaitable[V1Result]]
