"""Due queue rows, grouped into SMTP transactions: one message, one recipient domain."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

from ..read_model import DueDelivery

# Servers accept at least 100 recipients per transaction (RFC 5321 §4.5.3.1.8); SES's own
# limit is 50 per message, so a split happens only for messages from elsewhere.
MAX_RECIPIENTS_PER_TRANSACTION: Final = 100


class Group(NamedTuple):
    """One transaction's worth of work: some recipients of one message in one domain."""

    message_id: str
    domain: str
    recipients: tuple[str, ...]

    def keys(self) -> Iterable[tuple[str, str]]:
        return ((self.message_id, address) for address in self.recipients)


def group_rows(rows: Iterable[DueDelivery]) -> list[Group]:
    """Rows grouped per message and domain, in the order their first row came (time order)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        grouped.setdefault((row.message_id, row.domain), []).append(row.address)
    groups: list[Group] = []
    for (message_id, domain), addresses in grouped.items():
        for start in range(0, len(addresses), MAX_RECIPIENTS_PER_TRANSACTION):
            chunk = tuple(addresses[start : start + MAX_RECIPIENTS_PER_TRANSACTION])
            groups.append(Group(message_id, domain, chunk))
    return groups
