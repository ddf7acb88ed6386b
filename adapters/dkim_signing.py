"""DKIM-sign a finalized message with dkimpy, as Easy DKIM signs for the From domain.

Why an adapter and not the core, although signing is computation on bytes and a key:
dkimpy stamps every signature with the wall clock (`t=` comes from `time.time()`, with
no way to pass a time in), it imports a DNS library, and the key is a secret that
should not travel through pure code whose inputs end up in events. Sign last, after
`finalize`: any later change to a signed header or the body breaks the signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import dkim

from sendtrail.adapters.dkim_keys import DkimKey
from sendtrail.core.assembly.header_block import split_header_block

# The headers a recipient sees and trusts; signed when present. Signing an absent one
# would also be legal (it forbids adding it later), but SES signs only present ones.
SIGNED_HEADERS: Final = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
)
# relaxed/relaxed survives the re-folding and whitespace changes relays make. (Mail from
# SES is seen with relaxed/simple; relaxed bodies are the more forgiving choice.)
CANONICALIZATION: Final = (b"relaxed", b"relaxed")


class DkimSigningError(RuntimeError):
    """dkimpy refused to sign (malformed message or key)."""


def sign_message(
    message: bytes,
    key: DkimKey,
    *,
    signed_headers: Sequence[str] = SIGNED_HEADERS,
    canonicalize: tuple[bytes, bytes] = CANONICALIZATION,
) -> bytes:
    """`message` with a `DKIM-Signature` header prepended, `d=` the key's domain and
    `s=` its selector. The header uses the message's own line endings."""
    block = split_header_block(message)
    present = {field.key for field in block.fields}
    headers = [name.encode("ascii") for name in signed_headers if name.lower() in present]
    try:
        signature = dkim.sign(
            message,
            key.selector.encode("ascii"),
            key.domain.encode("ascii"),
            key.private_key_pem,
            canonicalize=canonicalize,
            include_headers=headers,
            linesep=block.line_ending,
        )
    except dkim.DKIMException as exc:
        raise DkimSigningError(str(exc)) from exc
    return signature + message
