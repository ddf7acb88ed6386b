"""The content-scanner port: is there malware in a message?

SES accepts a message whose attachment carries a virus and then does not send it
(BCv2 SendEmailResponse); under event publishing that is a Reject event with
`"reason": "Bad content"` (reference 4). The engine scans after acceptance and records
either outcome; scanners live in `sendtrail.adapters.scanners`.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class ScanVerdict(msgspec.Struct, frozen=True):
    infected: bool
    signature: str | None = None  # the scanner's name for what it found, e.g. Eicar-Test-Signature


CLEAN = ScanVerdict(infected=False)


class ScannerUnavailable(RuntimeError):
    """The scanner could not give a verdict (daemon down, protocol error, a limit it
    refuses to scan past). Not a verdict: the engine decides whether to retry, hold the
    message or fail it, rather than silently sending unscanned mail."""


class ContentScanner(Protocol):
    async def scan(self, raw: bytes) -> ScanVerdict:
        """The verdict on a whole MIME message; raises `ScannerUnavailable`."""
        ...
