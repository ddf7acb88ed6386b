"""The notification outbox: every notification the log calls for, and how far its delivery got.

A projection like the others, kept inside the writer's transactions: an event that calls for
notifications and their outbox rows commit together, so none is lost and none is invented.
One row per (destination, payload), with a stable id derived from the event's position and
the route, so a rebuild gives the same ids.

Nothing here reads live state. As of each event's position, the identity and configuration
set in force are folded from their own streams (``ResourceSaved``/``ResourceDeleted``), the
message's request is its stream's first event, and its headers come from the stored content.
Delivery status comes from the log too: the notifier records ``NotificationDelivered``,
``NotificationAttemptFailed`` and ``NotificationParked`` (``NotificationRetried`` from the
CLI) in ``notification/<id>``, so a rebuild keeps delivered notifications delivered and
never sends them again.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

from sendtrail.core import events as ev
from sendtrail.core import notifications as notify
from sendtrail.core import resources as res
from sendtrail.core.acceptance.requests import FormattedMessage, TemplateContent
from sendtrail.core.notifications.headers import MailHeaders
from sendtrail.core.notifications.identity import sending_identity
from sendtrail.core.projections import timestamp

from .sqlite_projections import Logged, StreamLoader, events_table_loader, record_position

ContentLoader = Callable[[str], bytes | None]  # sha256 -> the stored content

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
PARKED: Final = "parked"
EMAIL_ENDPOINT: Final = "email"  # every forwarded mail goes through the one relay

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS notification_outbox (
    notification_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,      -- the event that called for it
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,       -- that event's type (RecipientBounced...)
    channel TEXT NOT NULL,          -- identity, event or email
    kind TEXT NOT NULL,             -- notificationType / eventType: Bounce, Rendering Failure...
    endpoint TEXT NOT NULL,         -- the delivery queue: topic:<arn>, or email
    target TEXT NOT NULL,           -- the SNS topic ARN, or the address to forward to
    origin TEXT NOT NULL,           -- the identity or event destination that asked for it
    payload BLOB NOT NULL,          -- the SES JSON
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,           -- pending, delivered or parked
    attempts INTEGER NOT NULL,      -- failed attempts since created or retried
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL        -- events in notification/<id>, for appends to it
);
CREATE INDEX IF NOT EXISTS notification_outbox_due
    ON notification_outbox (endpoint, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notification_outbox_message ON notification_outbox (message_id);
"""
COLUMNS: Final = (
    "notification_id", "position", "message_id", "event_type", "channel", "kind", "endpoint",
    "target", "origin", "payload", "created_at", "status", "attempts", "next_attempt_at",
    "last_error", "delivered_at", "updated_at", "version",
)  # fmt: skip
_INSERT = (
    f"INSERT OR IGNORE INTO notification_outbox ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(COLUMNS))})"
)
_TRACKED_KINDS: Final = frozenset({res.IDENTITY, res.CONFIGURATION_SET, res.TEMPLATE})


def endpoint_of(channel: str, target: str) -> str:
    return EMAIL_ENDPOINT if channel == notify.EMAIL else f"topic:{target}"


def content_table_loader(db: sqlite3.Connection) -> ContentLoader:
    """Content from the ``content`` table reachable through ``db`` (the log's database)."""

    def load(sha256: str) -> bytes | None:
        row = db.execute("SELECT data FROM content WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else bytes(row[0])

    return load


class OutboxProjector:
    """``notification_outbox``. ``publisher`` (region, account id) shapes the ARNs in the
    payloads: a rebuild must use the service's, or its payloads differ."""

    name: Final = "notifications"
    tables: Final = ("notification_outbox",)

    def __init__(
        self,
        load_stream: StreamLoader | None = None,
        load_content: ContentLoader | None = None,
        *,
        publisher: notify.Publisher | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self._load_stream = load_stream
        self._load_content = load_content
        self.publisher = publisher or notify.Publisher()
        self._resources = _ResourcesAsOf()
        self._messages = _Messages(cache_size)
        self._listeners: list[Callable[[], None]] = []
        self._added = False
        self._bound: sqlite3.Connection | None = None
        self._content_of: ContentLoader | None = None

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a commit that added notifications (from the writer's
        thread: it must be thread-safe, like ``Notifier.wake``)."""
        self._listeners.append(listener)

    # --- Projector ----------------------------------------------------------------------

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)
        self._bind(db)

    def _bind(self, db: sqlite3.Connection) -> None:
        """Read streams and content through ``db`` when it holds the log (a catch-up applies
        events without ``setup``). Content must come from the connection that writes it: a
        send's content commits with its events, unseen by any other connection until then."""
        if self._bound is db:
            return
        if self._load_stream is None:
            self._load_stream = events_table_loader(db)
        if _has_content_table(db):
            self._content_of = content_table_loader(db)
        elif self._load_content is not None:
            self._content_of = self._load_content
        else:
            # A rebuild into a separate file must be given the log's content, or the
            # payloads would silently lose their headers and differ from the live ones.
            raise ValueError("OutboxProjector needs load_content outside the log database")
        self._bound = db

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        self._bind(db)
        rows: list[tuple[object, ...]] = []
        for stored in events:
            event = stored.event
            if isinstance(event, ev.MessageEvent):
                if type(event) is ev.SendRequested:
                    self._messages.requested(stored.stream_id, event)  # type: ignore[arg-type]
                elif type(event) in notify.NOTIFYING_EVENTS:
                    rows.extend(self._derive(stored))
            elif isinstance(event, ev.NotificationEvent):
                # Its row may have been derived earlier in this same batch (a rebuild folds
                # thousands of events at once): write the rows first.
                self._insert(db, rows)
                _apply_delivery(db, stored.version, event)
            elif isinstance(event, ev.ResourceSaved | ev.ResourceDeleted):
                self._resources.changed(stored)
        self._insert(db, rows)
        record_position(db, self.name, events[-1].position)

    def _insert(self, db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
        if rows:
            db.executemany(_INSERT, rows)
            rows.clear()
            self._added = True

    def committed(self) -> None:
        self._resources.committed()
        self._messages.committed()
        added, self._added = self._added, False
        if added:
            for listener in self._listeners:
                listener()

    def rolled_back(self) -> None:
        self._resources.rolled_back()
        self._messages.rolled_back()
        self._added = False

    # --- deriving -----------------------------------------------------------------------

    def _derive(self, stored: Logged) -> list[tuple[object, ...]]:
        event = stored.event
        request = self._messages.request(stored.stream_id, stored.position, self._loader())
        if request is None:
            return []
        if type(event) not in notify.IDENTITY_EVENTS and request.configuration_set is None:
            return []  # only event publishing reports it, and the message names no set
        lookup = self._resources.lookup(stored.position, self._loader())
        identity_name, identity = sending_identity(
            request.source, lambda name: lookup(res.IDENTITY, name, res.Identity)
        )
        configuration_set = (
            lookup(res.CONFIGURATION_SET, request.configuration_set, res.ConfigurationSet)
            if request.configuration_set
            else None
        )
        sender = notify.Sender(
            request=request,
            identity_name=identity_name,
            identity=identity,
            configuration_set=configuration_set,
            publisher=self.publisher,
        )

        def headers() -> MailHeaders:
            return self._messages.headers(request, self._content, lookup)

        planned_notifications = notify.plan(event, sender, headers)
        if not planned_notifications:
            return []
        created = timestamp(event.at)
        rows: list[tuple[object, ...]] = []
        payloads: dict[int, bytes] = {}  # event destinations share one record
        for planned in planned_notifications:
            route = planned.route
            payload = payloads.get(id(planned.record))
            if payload is None:
                payload = payloads[id(planned.record)] = notify.encode_record(planned.record)
            rows.append(
                (
                    notify.notification_id(stored.position, route.key),
                    stored.position,
                    request.message_id,
                    type(event).__name__,
                    route.channel,
                    route.kind,
                    endpoint_of(route.channel, route.target),
                    route.target,
                    route.origin,
                    payload,
                    created,
                    PENDING,
                    0,
                    created,
                    None,
                    None,
                    created,
                    0,
                )
            )
        return rows

    def _loader(self) -> StreamLoader:
        assert self._load_stream is not None, "setup() must run before apply()"
        return self._load_stream

    def _content(self, sha256: str) -> bytes | None:
        assert self._content_of is not None, "setup() must run before apply()"
        return self._content_of(sha256)


def _has_content_table(db: sqlite3.Connection) -> bool:
    """Whether ``db`` holds the log's content; on PostgreSQL the store passes a wrapper that
    asks its catalogue (``PostgresProjectionConnection``), there being no ``sqlite_master``."""
    if not isinstance(db, sqlite3.Connection):
        return bool(db.has_table("content"))
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'content'")
    return row.fetchone() is not None


def _apply_delivery(db: sqlite3.Connection, version: int, event: ev.NotificationEvent) -> None:
    """A delivery outcome from the log onto the notification's row."""
    at = timestamp(event.at)
    match event:
        case ev.NotificationDelivered():
            sql = "status = ?, delivered_at = ?"
            values: tuple[object, ...] = (DELIVERED, at)
        case ev.NotificationAttemptFailed():
            sql = "attempts = ?, next_attempt_at = ?, last_error = ?"
            values = (event.attempt, timestamp(event.retry_at), event.error)
        case ev.NotificationParked():
            sql = "status = ?, attempts = ?, last_error = ?"
            values = (PARKED, event.attempts, event.error)
        case ev.NotificationRetried():
            sql = "status = ?, attempts = 0, next_attempt_at = ?"
            values = (PENDING, at)
        case _:
            return
    db.execute(
        f"UPDATE notification_outbox SET {sql}, updated_at = ?, version = ? "
        "WHERE notification_id = ?",
        (*values, at, version, event.notification_id),
    )


# --- what the derivation folds ------------------------------------------------------------

ResourceLookup = Callable[[str, str, type], object]


class _ResourcesAsOf:
    """Identities, configuration sets and templates as of the event being projected.

    A stream seen for the first time is folded from the log up to that event; after that,
    its changes arrive through ``changed`` in log order. Changes of a transaction count
    only once it commits.
    """

    def __init__(self) -> None:
        self._known: dict[str, res.Resource | None] = {}
        self._pending: dict[str, res.Resource | None] = {}

    def changed(self, stored: Logged) -> None:
        kind_and_name = res.split_stream_id(stored.stream_id)
        if kind_and_name is None or kind_and_name[0] not in _TRACKED_KINDS:
            return
        event = stored.event
        self._pending[stored.stream_id] = (
            event.resource if isinstance(event, ev.ResourceSaved) else None
        )

    def lookup(self, position: int, load: StreamLoader) -> Callable[..., object]:
        def find(kind: str, name: str, cls: type[res.Resource]) -> object:
            stream = res.stream_id(kind, name)
            if stream in self._pending:
                found = self._pending[stream]
            elif stream in self._known:
                found = self._known[stream]
            else:
                found = self._pending[stream] = _fold_resource(load(stream, position))
            return found if isinstance(found, cls) else None

        return find

    def committed(self) -> None:
        self._known.update(self._pending)
        self._pending.clear()

    def rolled_back(self) -> None:
        self._pending.clear()


def _fold_resource(events: list[ev.Event]) -> res.Resource | None:
    state: res.Resource | None = None
    for event in events:
        if isinstance(event, ev.ResourceSaved):
            state = event.resource
        elif isinstance(event, ev.ResourceDeleted):
            state = None
    return state


class _Message:
    """A message's request, its decoded content, and its headers with the template subject
    they were computed with (a stored template can change between two events)."""

    __slots__ = ("content", "headers", "request", "template_subject")

    def __init__(self, request: ev.SendRequested) -> None:
        self.request = request
        self.content: notify.Stored | None = None
        self.headers: MailHeaders | None = None
        self.template_subject: str | None = None


class _Messages:
    """A bounded cache of the messages being notified about; a message that fell out of it is
    read again from its stream, so memory stays flat however long the log grows."""

    def __init__(self, size: int) -> None:
        self._cache: OrderedDict[str, _Message] = OrderedDict()
        self._pending: dict[str, _Message] = {}
        self._size = size

    def requested(self, message_id: str, request: ev.SendRequested) -> None:
        self._pending[message_id] = _Message(request)

    def request(
        self, message_id: str, position: int, load: StreamLoader
    ) -> ev.SendRequested | None:
        message = self._get(message_id, position, load)
        return None if message is None else message.request

    def headers(
        self,
        request: ev.SendRequested,
        content_of: ContentLoader,
        lookup: Callable[..., object],
    ) -> MailHeaders:
        message = self._pending.get(request.message_id) or self._cache.get(request.message_id)
        if message is None:  # not cached (a caller always asks request() first)
            message = self._pending[request.message_id] = _Message(request)
        if message.content is None and request.content_sha256:
            data = content_of(request.content_sha256)
            if data is not None:
                message.content = notify.decode_request_content(data, request.operation)
        subject = _stored_template_subject(message.content, lookup)
        if message.headers is None or subject != message.template_subject:
            message.headers = notify.mail_headers(
                message.content, message_id=request.message_id, template_subject=subject
            )
            message.template_subject = subject
        return message.headers

    def _get(self, message_id: str, position: int, load: StreamLoader) -> _Message | None:
        message = self._pending.get(message_id) or self._cache.get(message_id)
        if message is None:
            events = load(message_id, position)
            first = events[0] if events else None
            if not isinstance(first, ev.SendRequested):
                return None
            message = self._pending[message_id] = _Message(first)
        return message

    def committed(self) -> None:
        cache = self._cache
        for message_id, message in self._pending.items():
            cache[message_id] = message
            cache.move_to_end(message_id)
        self._pending.clear()
        while len(cache) > self._size:
            cache.popitem(last=False)

    def rolled_back(self) -> None:
        self._pending.clear()


def _stored_template_subject(
    content: notify.Stored | None, lookup: Callable[..., object]
) -> str | None:
    if not isinstance(content, FormattedMessage):
        return None
    request = content.content
    if not isinstance(request, TemplateContent) or not request.template_name:
        return None
    template = lookup(res.TEMPLATE, request.template_name, res.Template)
    return template.subject if isinstance(template, res.Template) else None
