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
    # How often pending domain identities are looked up in DNS (SES gives up after 72 h).
    check_seconds: float = 60.0


class DeliverySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ehlo_name: str = "mta.sendtrail.localhost"
    smtp_port: int = 25
    max_delivery_seconds: int = 50_400
    routes: dict[str, str] = {}
    # The domain of the Message-ID header SES puts on delivered mail (<id@domain>); by
    # default SES's own: email.amazonses.com in us-east-1, <region>.amazonses.com elsewhere.
    message_id_domain: str | None = None
    # Outbound SMTP (adapters/delivery). Concurrency: SMTP transactions in flight, in all and
    # per recipient domain (Postfix's default destination concurrency is 20).
    max_in_flight: int = 100
    max_in_flight_per_domain: int = 20
    # Connections to one MX address (ip:port), open at once and reused for this many messages.
    max_connections_per_host: int = 20
    max_messages_per_connection: int = 100
    idle_connection_seconds: float = 5.0
    # Transactions started per second per recipient domain (a token bucket); 0 means no limit.
    domain_rate_limit: float = 100.0
    # Timeouts in seconds: TCP connect; each command reply (greeting, EHLO, STARTTLS, MAIL,
    # RCPT, DATA); the message transfer and its final reply; one DNS query; one whole attempt
    # at a domain (all its hosts). RFC 5321 §4.5.3.2 and Postfix's smtp_*_timeout defaults.
    connect_timeout: float = 30.0
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    dns_timeout: float = 10.0
    attempt_timeout: float = 900.0
    # Extra trust anchors (PEM) for hosts that must present a valid certificate (TlsPolicy
    # REQUIRE); opportunistic STARTTLS accepts any certificate, as MTAs do.
    tls_ca_file: str | None = None


class DnsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    nameservers: list[str] = []


class SimulatorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    domains: tuple[str, ...] = ("simulator.amazonses.com", "simulator.sendtrail.localhost")


class ScanSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # A clamd to scan with ("unix:/run/clamav/clamd.ctl" or "tcp://127.0.0.1:3310");
    # without one, the built-in scanner looks for the EICAR test signature.
    clamd: str | None = None


class StoreSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str | None = None


# What a ``sendtrail serve`` process does: accept mail, deliver it, or both.
ROLES = ("all", "api", "worker")


class WorkerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[workers]``: several processes on one PostgreSQL store (``adapters/cluster``)."""

    heartbeat_seconds: float = 1.0
    # A process silent this long is dead: its unfinished deliveries and notifications are
    # taken over by the others (a delivery it had started may then be made twice).
    dead_after_seconds: float = 10.0
    # A worker process (--role worker) serves /healthz and /metrics here when set.
    http_listen: str | None = None

    def __post_init__(self) -> None:
        if self.heartbeat_seconds <= 0 or self.dead_after_seconds <= 2 * self.heartbeat_seconds:
            raise ValueError("dead_after_seconds must be more than two heartbeat_seconds")


class TopicSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str
    format: str = "sns"
    secret: str | None = None

    def __repr__(self) -> str:
        return f"TopicSettings(url={self.url!r}, format={self.format!r}, secret='***')"


class NotificationSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[notifications]``: the notifier (webhooks per ``[topics]``, feedback forwarding)."""

    # The 12-digit account id in sourceArn and sendingAccountId (LocalStack's, as in the
    # topic ARNs of interfaces.md). A rebuild renders with it too: change it, rebuild.
    account_id: str = "000000000000"
    # SMTP relay ("host:port") for feedback forwarded by email; without one those park.
    relay: str | None = None
    # Forwarded feedback comes from MAILER-DAEMON@ / complaints@ this domain
    # (default: the [feedback] domain).
    from_domain: str | None = None
    max_attempts: int = 8  # failed attempts before a notification is parked
    retry_base_seconds: float = 2.0  # first retry delay, doubled per attempt, with jitter
    retry_max_seconds: float = 600.0
    timeout_seconds: float = 10.0  # one HTTP request or SMTP transaction
    concurrency_per_endpoint: int = 4  # requests in flight per topic (and to the relay)
    poll_seconds: float = 0.5  # how often due notifications are looked for, at most
    # Where the SNS envelope's SigningCertURL and UnsubscribeURL point (not AWS: see
    # docs/notifications.md).
    sns_base_url: str = "https://sns.sendtrail.localhost"

    def __post_init__(self) -> None:
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ValueError("account_id must be 12 digits")
        if self.relay is not None:
            host, _, port = self.relay.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"relay {self.relay!r} is not host:port")
        if self.max_attempts < 1 or self.concurrency_per_endpoint < 1:
            raise ValueError("max_attempts and concurrency_per_endpoint must be at least 1")
        if min(self.retry_base_seconds, self.timeout_seconds, self.poll_seconds) <= 0:
            raise ValueError("retry_base_seconds, timeout_seconds, poll_seconds must be > 0")


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
    scan: ScanSettings = ScanSettings()
    store: StoreSettings = StoreSettings()
    workers: WorkerSettings = WorkerSettings()
    topics: dict[str, TopicSettings] = {}
    notifications: NotificationSettings = NotificationSettings()


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
    if settings.workers.http_listen:
        _host_port(name, "workers.http_listen", settings.workers.http_listen)
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
