"""Which identity a message was sent through: its topics, its forwarding, its ARN.

The sending identity is the From address's own identity, else its ``+label``-less form, else
its domain, else the nearest parent domain with an identity (a domain covers its
subdomains, as acceptance rules it). With none of those, the ARN names the domain and the
identity's defaults apply: no topics, feedback forwarding on.
"""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Callable

from sendtrail.core.resources import Identity

IdentityLookup = Callable[[str], Identity | None]  # an identity name -> the identity, if any


@functools.lru_cache(maxsize=4096)
def sender_address(source: str) -> str:
    """The bare address of ``source``, which may carry a display name."""
    if not any(char in source for char in '<>"( '):
        return source  # a plain address: the parser would only slow every event down
    return email.utils.parseaddr(source)[1] or source.strip()


@functools.lru_cache(maxsize=4096)
def identity_candidates(address: str) -> tuple[str, ...]:
    """Identity names that could cover ``address``, the most specific first."""
    local, at, domain = address.rpartition("@")
    domain = domain.lower()
    candidates: list[str] = []
    if at:
        candidates.append(f"{local}@{domain}")
        unlabelled = local.split("+", 1)[0]
        if unlabelled != local:
            candidates.append(f"{unlabelled}@{domain}")
    labels = domain.split(".")
    candidates.extend(".".join(labels[index:]) for index in range(max(len(labels) - 1, 1)))
    return tuple(candidates)


def sending_identity(source: str, lookup: IdentityLookup) -> tuple[str, Identity | None]:
    """(the identity's name as the ARN shows it, its settings when it exists)."""
    candidates = identity_candidates(sender_address(source))
    for name in candidates:
        identity = lookup(name)
        if identity is not None:
            return identity.name, identity
    domain = sender_address(source).rpartition("@")[2].lower()
    return domain or candidates[0], None


def source_arn(region: str, account_id: str, identity_name: str) -> str:
    return f"arn:aws:ses:{region}:{account_id}:identity/{identity_name}"
