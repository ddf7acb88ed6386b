"""The composition root: one engine and everything that works on it, for a data directory.

Surfaces (HTTP, SMTP, CLI) and embedders use ``App``: ``app.sender.send(...)`` for sends,
``app.account`` for identities, templates, configuration sets and account settings,
``app.engine`` for the log and the projections.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from sendtrail.core import resources as res
from sendtrail.core.acceptance.simulator import simulator_scenario
from sendtrail.core.commands import SuppressionPolicy
from sendtrail.core.delivery.suppression import effective_reasons
from sendtrail.core.notifications import Publisher
from sendtrail.core.state import MessageState

from .account import AccountOperations, DkimFactory
from .clock import Clock, SystemClock
from .config import Settings
from .dkim_keys import generate_key, key_bits, new_tokens
from .engine import Engine
from .outbox_projection import OutboxProjector
from .resources import ResourceRegistry
from .sending import Sender
from .sqlite_projections import MessageProjector, default_projectors
from .suppression import SuppressionList


def publisher_for(settings: Settings) -> Publisher:
    """Where notifications say the account lives (region, account id in ARNs)."""
    return Publisher(region=settings.region, account_id=settings.notifications.account_id)


class App:
    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        durable: bool = True,
        make_dkim: DkimFactory | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.projectors = default_projectors(publisher=publisher_for(settings))
        self.engine = Engine.open(
            data_dir,
            store_url=settings.store.url,
            clock=self.clock,
            region=settings.region,
            durable=durable,
            projectors=self.projectors,
        )
        for projector in self.projectors:
            if isinstance(projector, MessageProjector):
                projector.state_hint = self.engine.cached_state
        self.registry = ResourceRegistry(self.engine.store)
        self.suppression = SuppressionList(self.engine.store, self.clock)
        self.account = AccountOperations(
            self.registry, settings, self.clock, make_dkim or self._stored_dkim
        )
        self.account.trust_configured_identities()
        self._accepted_listeners: list[Callable[[], None]] = []
        self.sender = Sender(self.engine, self.registry, settings, on_accepted=self._accepted)

    def suppression_policy(self, state: MessageState, recipient: str) -> SuppressionPolicy:
        """The suppression reasons in force for a message and whether the recipient is a
        mailbox simulator address."""
        simulated = simulator_scenario(recipient, self.settings.simulator.domains) is not None
        return SuppressionPolicy(reasons=self.suppression_reasons(state), simulator=simulated)

    def suppression_reasons(self, state: MessageState) -> tuple[str, ...]:
        """The message's configuration set's override, else the account's reasons."""
        configuration_set = (
            self.registry.get(res.ConfigurationSet, state.configuration_set)
            if state.configuration_set is not None
            else None
        )
        reasons = effective_reasons(
            self.account.account().suppressed_reasons,
            configuration_set.suppressed_reasons if configuration_set is not None else None,
        )
        return tuple(sorted(reasons))

    def outbox(self) -> OutboxProjector:
        return next(p for p in self.projectors if isinstance(p, OutboxProjector))

    def on_accepted(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each accepted send (the delivery scheduler wakes on it)."""
        self._accepted_listeners.append(listener)

    def _accepted(self) -> None:
        for listener in self._accepted_listeners:
            listener()

    def _stored_dkim(self, domain: str, key_length: str) -> res.Dkim:
        """Easy-DKIM for ``domain``: three tokens to publish, and a signing key for the first.

        The private key goes to the content store, never into an event: the log is kept
        forever and replicated to audits, a key must be replaceable.
        """
        tokens = new_tokens()
        key = generate_key(domain, tokens[0], key_bits(key_length))
        return res.Dkim(
            selector=key.selector,
            public_key=base64.b64encode(key.public_key_der).decode(),
            private_key_sha256=self.engine.store.put_content(key.private_key_pem),
            tokens=tokens,
            key_length=key_length,
        )

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
