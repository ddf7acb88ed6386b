"""Managing the account's resources as SES's management calls do.

Identities, templates, configuration sets (with their options and event destinations) and
the account's own settings. Every change goes through ``ResourceRegistry`` and so becomes an
event naming who made it. Errors are SES's (``NotFoundException``, ``AlreadyExistsException``,
``BadRequestException`` and their v1 codes).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable

import msgspec

from sendtrail.core import resources as res
from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.templates import EmailTemplate, validate_template
from sendtrail.core.identity_verification import DnsFindings, checked
from sendtrail.core.ports import ConcurrencyError

from .clock import Clock
from .config import Settings
from .resources import ResourceRegistry

# Processes starting together on one store: how often one re-reads after losing the race to
# save a configured identity.
CONFIG_RACE_ATTEMPTS = 3
CONFIGURATION_SET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EVENT_TYPES_V2 = frozenset(
    {"SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "OPEN", "CLICK", "RENDERING_FAILURE",
     "DELIVERY_DELAY", "SUBSCRIPTION"}
)  # fmt: skip
DkimFactory = Callable[[str, str], res.Dkim]  # (domain, key length) -> a fresh Easy-DKIM setup


class AccountOperations:
    def __init__(
        self,
        registry: ResourceRegistry,
        settings: Settings,
        clock: Clock,
        make_dkim: DkimFactory,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.make_dkim = make_dkim

    # --- identities ---------------------------------------------------------------------

    def create_identity(
        self,
        name: str,
        *,
        actor: str | None,
        key_length: str = "RSA_2048_BIT",
        easy_dkim: bool = True,
    ) -> res.Identity:
        name = name.strip()
        if not name or any(c.isspace() for c in name) or name.count("@") > 1:
            raise errors.bad_request(f"Invalid identity: {name}")
        if self.registry.get(res.Identity, name) is not None:
            raise errors.already_exists(f"Email identity {name} already exist.")
        now = self.clock.now()
        trusted = self._trusted(name)
        if "@" in name:
            identity = res.Identity(
                name=name,
                created_at=now,
                identity_type=res.EMAIL_ADDRESS,
                trusted=trusted,
                verification_status=res.SUCCESS if trusted else res.PENDING,
            )
        else:
            identity = res.Identity(
                name=name.lower(),
                created_at=now,
                identity_type=res.DOMAIN,
                trusted=trusted,
                verification_status=res.SUCCESS if trusted else res.PENDING,
                verification_token=_verification_token(),
                dkim=self.make_dkim(name.lower(), key_length) if easy_dkim else None,
            )
        self.registry.save(identity, at=now, actor=actor)
        return identity

    def identity(self, name: str) -> res.Identity:
        identity = self.registry.get(res.Identity, name)
        if identity is None:
            raise errors.not_found(f"Email identity {name} does not exist.")
        return self._with_coverage(identity)

    def identities(self, identity_type: str | None = None) -> list[res.Identity]:
        return [
            self._with_coverage(identity)
            for identity in self.registry.all(res.Identity)
            if identity_type is None or identity.identity_type == identity_type
        ]

    def delete_identity(self, name: str, *, actor: str | None, missing_ok: bool = False) -> None:
        deleted = self.registry.delete(res.Identity, name, at=self.clock.now(), actor=actor)
        if not deleted and not missing_ok:
            raise errors.not_found(f"Email identity {name} does not exist.")

    def update_identity(self, name: str, *, actor: str | None, **changes: object) -> res.Identity:
        identity = self.registry.get(res.Identity, name)
        if identity is None:
            raise errors.not_found(f"Email identity {name} does not exist.")
        updated = msgspec.structs.replace(identity, **changes)
        self.registry.save(updated, at=self.clock.now(), actor=actor)
        return updated

    def record_dns_check(self, name: str, findings: DnsFindings) -> res.Identity:
        identity = self.identity(name)
        updated = checked(identity, findings, self.clock.now())
        if updated != identity:
            self.registry.save(updated, at=self.clock.now(), actor="dns-check")
        return updated

    def trust_configured_identities(self) -> None:
        """Save ``[identities] verified`` as trusted identities (once; restarts change nothing).

        Processes sharing a store may start together and all try: each first reads what the
        others saved, and the one that loses a race to save reads again and finds nothing
        left to do.
        """
        self.registry.refresh()
        for name in self.settings.identities.verified:
            for attempt in range(CONFIG_RACE_ATTEMPTS):
                try:
                    self._trust(name)
                    break
                except ConcurrencyError:
                    if attempt + 1 == CONFIG_RACE_ATTEMPTS:
                        raise
                    self.registry.refresh()

    def _trust(self, name: str) -> None:
        current = self.registry.get(res.Identity, name)
        if current is not None and current.trusted:
            return
        if current is None:
            # No DKIM key for a configured domain: nobody has published its record yet,
            # and a signature nobody can verify helps no one.
            self.create_identity(name, actor="config", easy_dkim=False)
        else:
            self.update_identity(
                name, actor="config", trusted=True, verification_status=res.SUCCESS
            )

    def _trusted(self, name: str) -> bool:
        return name.lower() in {entry.lower() for entry in self.settings.identities.verified}

    def _with_coverage(self, identity: res.Identity) -> res.Identity:
        """An address whose domain is verified is verified too, as SES shows it."""
        if identity.identity_type != res.EMAIL_ADDRESS or identity.verified:
            return identity
        domain = self.registry.get(res.Identity, identity.name.rpartition("@")[2])
        if domain is not None and domain.verified:
            return msgspec.structs.replace(identity, verification_status=res.SUCCESS)
        return identity

    # --- templates ----------------------------------------------------------------------

    def create_template(self, template: res.Template, *, actor: str | None) -> None:
        _validate_template(template)
        if self.registry.get(res.Template, template.name) is not None:
            raise errors.already_exists(f"Template {template.name} already exists.")
        self.registry.save(template, at=self.clock.now(), actor=actor)

    def template(self, name: str) -> res.Template:
        template = self.registry.get(res.Template, name)
        if template is None:
            raise errors.not_found(
                f"Template {name} does not exist.", v1_code="TemplateDoesNotExist"
            )
        return template

    def update_template(self, template: res.Template, *, actor: str | None) -> None:
        current = self.template(template.name)
        _validate_template(template)
        updated = msgspec.structs.replace(template, created_at=current.created_at)
        self.registry.save(updated, at=self.clock.now(), actor=actor)

    def delete_template(self, name: str, *, actor: str | None, missing_ok: bool = False) -> None:
        deleted = self.registry.delete(res.Template, name, at=self.clock.now(), actor=actor)
        if not deleted and not missing_ok:
            raise errors.not_found(
                f"Template {name} does not exist.", v1_code="TemplateDoesNotExist"
            )

    def templates(self) -> list[res.Template]:
        return self.registry.all(res.Template)

    # --- configuration sets ---------------------------------------------------------------

    def create_configuration_set(
        self, configuration_set: res.ConfigurationSet, *, actor: str | None
    ) -> None:
        if not CONFIGURATION_SET_NAME.match(configuration_set.name):
            raise errors.bad_request(
                "Configuration set names can contain only alphanumeric characters, dashes and "
                "underscores, and must be 64 characters or fewer."
            )
        if self.registry.get(res.ConfigurationSet, configuration_set.name) is not None:
            raise errors.already_exists(
                f"Configuration set <{configuration_set.name}> already exists.",
                v1_code="ConfigurationSetAlreadyExists",
            )
        _check_delivery_window(configuration_set.max_delivery_seconds)
        for destination in configuration_set.event_destinations:
            self._check_destination(destination)
        self.registry.save(configuration_set, at=self.clock.now(), actor=actor)

    def configuration_set(self, name: str) -> res.ConfigurationSet:
        configuration_set = self.registry.get(res.ConfigurationSet, name)
        if configuration_set is None:
            raise errors.configuration_set_missing(name)
        return configuration_set

    def configuration_sets(self) -> list[res.ConfigurationSet]:
        return self.registry.all(res.ConfigurationSet)

    def delete_configuration_set(self, name: str, *, actor: str | None) -> None:
        if not self.registry.delete(res.ConfigurationSet, name, at=self.clock.now(), actor=actor):
            raise errors.configuration_set_missing(name)

    def update_configuration_set(
        self, name: str, *, actor: str | None, **changes: object
    ) -> res.ConfigurationSet:
        current = self.configuration_set(name)
        updated = msgspec.structs.replace(current, **changes)
        _check_delivery_window(updated.max_delivery_seconds)
        if updated.tls_policy not in ("REQUIRE", "OPTIONAL"):
            raise errors.bad_request(f"Invalid TlsPolicy: {updated.tls_policy}")
        self.registry.save(updated, at=self.clock.now(), actor=actor)
        return updated

    def put_event_destination(
        self, name: str, destination: res.EventDestination, *, actor: str | None, create: bool
    ) -> None:
        current = self.configuration_set(name)
        existing = {d.name: d for d in current.event_destinations}
        if create and destination.name in existing:
            raise errors.already_exists(
                f"Event destination {destination.name} already exists in <{name}>.",
                v1_code="EventDestinationAlreadyExists",
            )
        if not create and destination.name not in existing:
            raise errors.not_found(
                f"Event destination {destination.name} does not exist in <{name}>.",
                v1_code="EventDestinationDoesNotExist",
            )
        self._check_destination(destination)
        existing[destination.name] = destination
        self.update_configuration_set(
            name, actor=actor, event_destinations=tuple(existing.values())
        )

    def delete_event_destination(self, name: str, destination: str, *, actor: str | None) -> None:
        current = self.configuration_set(name)
        kept = tuple(d for d in current.event_destinations if d.name != destination)
        if len(kept) == len(current.event_destinations):
            raise errors.not_found(
                f"Event destination {destination} does not exist in <{name}>.",
                v1_code="EventDestinationDoesNotExist",
            )
        self.update_configuration_set(name, actor=actor, event_destinations=kept)

    def _check_destination(self, destination: res.EventDestination) -> None:
        unknown = set(destination.matching_event_types) - EVENT_TYPES_V2
        if unknown:
            raise errors.bad_request(f"Invalid event types: {', '.join(sorted(unknown))}")
        self.check_topic(destination.sns_topic_arn)

    def check_topic(self, arn: str | None) -> None:
        """A topic ARN must map to a webhook in ``[topics]``, or SES's clients get an error now
        rather than a silent loss at send time."""
        if arn is not None and arn not in self.settings.topics:
            raise errors.bad_request(
                f"SNS topic <{arn}> not found.", v1_code="InvalidSNSDestination"
            )

    # --- the account ----------------------------------------------------------------------

    def account(self) -> res.Account:
        """The stored settings, or those of the configuration file until any are stored."""
        now = self.clock.now()
        configured = res.Account(
            name=res.ACCOUNT_NAME,
            created_at=now,
            suppressed_reasons=tuple(self.settings.account.suppressed_reasons),
        )
        return self.registry.account(now, configured)

    def update_account(self, *, actor: str | None, **changes: object) -> res.Account:
        updated = msgspec.structs.replace(self.account(), **changes)
        for reason in updated.suppressed_reasons:
            if reason not in ("BOUNCE", "COMPLAINT"):
                raise errors.bad_request(f"Invalid suppression reason: {reason}")
        self.registry.save(updated, at=self.clock.now(), actor=actor)
        return updated


def _verification_token() -> str:
    """44 characters of base64, like SES's domain verification tokens."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _validate_template(template: res.Template) -> None:
    validate_template(
        EmailTemplate(
            name=template.name,
            subject=template.subject,
            text=template.text,
            html=template.html,
        )
    )


def _check_delivery_window(seconds: int | None) -> None:
    if seconds is not None and not 300 <= seconds <= 50_400:
        raise errors.bad_request("MaxDeliverySeconds must be between 300 and 50400.")
