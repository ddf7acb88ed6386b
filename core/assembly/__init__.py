"""Assembly of the outgoing message, once per message, as SES does it (pure: no I/O).

- `build_simple`: the MIME message of a formatted send (`simple`, with `model`).
- `finalize`: SES's Message-ID and Date, X-SES-* and Bcc removed, MIME-Version ensured,
  every other byte kept (`finalize`); `read_control_headers` reads the X-SES-* first.
- `verp_address`: the envelope sender that names the message (`envelope`).
- `ContentScanner` / `ScanVerdict`: the malware-scanner port (`scan`).

DKIM signing is in `sendtrail.adapters.dkim_signing`: dkimpy stamps signatures with the
wall clock and pulls in a DNS library, neither of which the core may use.
"""

from sendtrail.core.assembly.control_headers import ControlHeaders, read_control_headers
from sendtrail.core.assembly.envelope import message_id_from_verp, verp_address
from sendtrail.core.assembly.finalize import finalize, format_date, header_domain_for_region
from sendtrail.core.assembly.model import (
    Attachment,
    Content,
    Disposition,
    InvalidContent,
    MessageHeader,
    SimpleMessage,
    TransferEncoding,
)
from sendtrail.core.assembly.scan import CLEAN, ContentScanner, ScannerUnavailable, ScanVerdict
from sendtrail.core.assembly.simple import build_simple

__all__ = [
    "CLEAN",
    "Attachment",
    "Content",
    "ContentScanner",
    "ControlHeaders",
    "Disposition",
    "InvalidContent",
    "MessageHeader",
    "ScanVerdict",
    "ScannerUnavailable",
    "SimpleMessage",
    "TransferEncoding",
    "build_simple",
    "finalize",
    "format_date",
    "header_domain_for_region",
    "message_id_from_verp",
    "read_control_headers",
    "verp_address",
]
