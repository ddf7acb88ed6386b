"""A message's raw MIME bytes, encoded once for the wire and shared by its domains' attempts."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, NamedTuple

_LINE_ENDINGS: Final = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT: Final = re.compile(rb"^\.", re.MULTILINE)


class PreparedContent(NamedTuple):
    wire: bytes  # CRLF line endings, dot-stuffed, ending with the terminating "."
    size: int  # octets as transmitted before dot-stuffing: the ESMTP SIZE value (RFC 1870)
    eight_bit: bool  # needs BODY=8BITMIME (RFC 6152)


def prepare(raw: bytes) -> PreparedContent:
    """The bytes as sent after DATA: the message is sent as it is, only framed for SMTP."""
    crlf = raw.count(b"\r\n")
    # Assembled mail already has CRLF line endings: the counts (C loops) spare a regex pass.
    text = raw if raw.count(b"\n") == crlf == raw.count(b"\r") else _LINE_ENDINGS.sub(b"\r\n", raw)
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    # RFC 5321 §4.5.2: a line starting with "." gets one more, so it cannot end the data.
    if text.startswith(b".") or b"\n." in text:
        text_on_wire = _LEADING_DOT.sub(b"..", text)
    else:
        text_on_wire = text
    return PreparedContent(text_on_wire + b".\r\n", len(text), not text.isascii())


ContentLoader = Callable[[str], bytes | None]


class ContentCache:
    """Prepared content being delivered, loaded and encoded once, keyed by its address.

    Content is held while any transaction that sends it is in flight (reference counted):
    the domain groups of one message, or messages that share their bytes. It is then kept in
    a small LRU, bounded in bytes, so that groups picked up a little later (a second domain,
    a retry of a few recipients) do not load and encode it again.
    """

    def __init__(self, load: ContentLoader, *, keep_recent_bytes: int = 32 * 1024 * 1024) -> None:
        self._load = load
        self._in_use: dict[str, tuple[PreparedContent, int]] = {}
        self._recent: OrderedDict[str, PreparedContent] = OrderedDict()
        self._recent_bytes = 0
        self._keep_recent_bytes = keep_recent_bytes

    def acquire(self, sha256: str) -> PreparedContent | None:
        """The content stored under ``sha256`` (None when missing); pair with ``release``."""
        prepared = self.acquire_cached(sha256)
        if prepared is not None:
            return prepared
        raw = self._load(sha256)
        return None if raw is None else self.acquire_loaded(sha256, raw)

    def acquire_cached(self, sha256: str) -> PreparedContent | None:
        """``acquire`` without loading: None when the content is not held or recent (the
        caller may then load it off the event loop and hand it to ``acquire_loaded``)."""
        held = self._in_use.get(sha256)
        if held is not None:
            self._in_use[sha256] = (held[0], held[1] + 1)
            return held[0]
        prepared = self._recent.pop(sha256, None)
        if prepared is None:
            return None
        self._recent_bytes -= len(prepared.wire)
        self._in_use[sha256] = (prepared, 1)
        return prepared

    def acquire_loaded(self, sha256: str, raw: bytes) -> PreparedContent:
        """``acquire`` with the bytes loaded by the caller (another caller may have loaded
        them meanwhile: then those are shared)."""
        cached = self.acquire_cached(sha256)
        if cached is not None:
            return cached
        prepared = prepare(raw)
        self._in_use[sha256] = (prepared, 1)
        return prepared

    def release(self, sha256: str) -> None:
        held = self._in_use.get(sha256)
        if held is None:
            return
        prepared, users = held
        if users > 1:
            self._in_use[sha256] = (prepared, users - 1)
            return
        del self._in_use[sha256]
        self._recent[sha256] = prepared
        self._recent_bytes += len(prepared.wire)
        while self._recent_bytes > self._keep_recent_bytes:
            _, oldest = self._recent.popitem(last=False)
            self._recent_bytes -= len(oldest.wire)

    def __len__(self) -> int:
        return len(self._in_use) + len(self._recent)
