"""NextToken paging over lists of named resources (identities, templates, configuration sets).

A token names the last item of the previous page, so a page stays correct when items are
added or removed between calls, as SES's tokens do.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from sendtrail.core.acceptance import errors

T = TypeVar("T")
_PREFIX: Final = "after:"
INVALID_TOKEN: Final = "The NextToken is invalid."  # as the suppression list says it


def page_of(
    items: Sequence[T],
    name_of: Callable[[T], str],
    *,
    next_token: str | None,
    size: int,
    invalid_token: Callable[[], errors.SesError] = lambda: errors.bad_request(INVALID_TOKEN),
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by name) after the token, and the token for the next."""
    after = _decode(next_token, invalid_token) if next_token else None
    remaining = [item for item in items if after is None or name_of(item) > after]
    page = remaining[:size]
    token = _encode(name_of(page[-1])) if len(remaining) > size else None
    return page, token


def page_size(value: int | None, *, maximum: int, name: str = "PageSize") -> int:
    """``None`` means as many as one page may hold; more than that is cut to it, as SES does."""
    if value is None:
        return maximum
    if value < 1:
        raise errors.bad_request(f"{name} must be at least 1.")
    return min(value, maximum)


def _encode(name: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{name}".encode()).decode()


def _decode(token: str, invalid_token: Callable[[], errors.SesError]) -> str:
    try:
        text = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(_PREFIX):
        raise invalid_token()
    return text.removeprefix(_PREFIX)
