"""The TOML configuration file, validated into typed settings.

Every key of ``interfaces.md`` is here with its default. A bad file is reported as
``ConfigError`` naming the file, the key and the reason; never as a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec


class HttpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    listen: str = "127.0.0.1:8025"


class SmtpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    listen: str = "127.0.0.1:2587"
    tls_listen: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    trusted_networks: list[str] = []


class FeedbackSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    domain: str = "feedback.sendtrail.localhost"
    listen: str = "127.0.0.1:2525"


class Credentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        # Secrets never reach logs, even through a repr in a traceback.
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='***')"


class AccountSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sandbox: bool = False
    max_send_rate: float = 14.0
    max_24_hour_send: float = 50_000
    suppressed_reasons: tuple[str, ...] = ("BOUNCE", "COMPLAINT")


class IdentitySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    verified: list[str] = []


class DeliverySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ehlo_name: str = "mta.sendtrail.localhost"
    smtp_port: int = 25
    max_delivery_seconds: int = 50_400
    routes: dict[str, str] = {}


class DnsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    nameservers: list[str] = []


class SimulatorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    domains: tuple[str, ...] = ("simulator.amazonses.com", "simulator.sendtrail.localhost")


class StoreSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str | None = None


class TopicSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str
    format: str = "sns"
    secret: str | None = None

    def __repr__(self) -> str:
        return f"TopicSettings(url={self.url!r}, format={self.format!r}, secret='***')"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    data_dir: str = "data"
    region: str = "us-east-1"
    http: HttpSettings = HttpSettings()
    smtp: SmtpSettings = SmtpSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    credentials: list[Credentials] = []
    account: AccountSettings = AccountSettings()
    identities: IdentitySettings = IdentitySettings()
    delivery: DeliverySettings = DeliverySettings()
    dns: DnsSettings = DnsSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    store: StoreSettings = StoreSettings()
    topics: dict[str, TopicSettings] = {}


class ConfigError(ValueError):
    def __init__(self, path: str, key: str | None, reason: str) -> None:
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.key = key
        self.reason = reason


def load_settings(path: str | Path | None) -> Settings:
    """Settings from ``path`` (defaults for everything when ``path`` is None)."""
    if path is None:
        return Settings()
    name = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(name, None, "no such file") from None
    except OSError as error:
        raise ConfigError(name, None, error.strerror or str(error)) from None
    except UnicodeDecodeError:
        raise ConfigError(name, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(name, None, f"not valid TOML: {error}") from None
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        key, reason = _split_validation(str(error))
        raise ConfigError(name, key, reason) from None
    _check(name, settings)
    return settings


def _split_validation(message: str) -> tuple[str | None, str]:
    """msgspec says ``Expected `int`, got `str` - at `$.delivery.smtp_port```."""
    reason, _, location = message.partition(" - at `")
    if not location:
        return None, message
    key = location.rstrip("`").removeprefix("$").lstrip(".")
    key = key.replace("[", ".").replace("]", "")
    return key or None, reason.replace("Object contains unknown field", "unknown key")


def _check(name: str, settings: Settings) -> None:
    for key, address in (
        ("http.listen", settings.http.listen),
        ("smtp.listen", settings.smtp.listen),
        ("feedback.listen", settings.feedback.listen),
    ):
        _host_port(name, key, address)
    if settings.smtp.tls_listen:
        _host_port(name, "smtp.tls_listen", settings.smtp.tls_listen)
    if not 300 <= settings.delivery.max_delivery_seconds <= 50_400:
        raise ConfigError(
            name, "delivery.max_delivery_seconds", "must be between 300 and 50400 seconds"
        )
    for reason in settings.account.suppressed_reasons:
        if reason not in ("BOUNCE", "COMPLAINT"):
            raise ConfigError(
                name, "account.suppressed_reasons", f"{reason!r} is not BOUNCE or COMPLAINT"
            )
    for arn, topic in settings.topics.items():
        if topic.format not in ("sns", "raw"):
            raise ConfigError(name, f'topics."{arn}".format', 'must be "sns" or "raw"')


def _host_port(name: str, key: str, address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(name, key, f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


def data_dir(settings: Settings, override: str | None) -> Path:
    return Path(override if override else settings.data_dir)
