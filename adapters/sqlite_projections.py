"""SQLite tables for the read models, kept in step with the log inside its transactions.

The message projector folds each message's events with the core's ``evolve`` and writes the
rows ``core.projections`` derives: ``messages`` and ``recipients``, whose ``due_at`` column,
through a partial index, is the delivery queue (the ``delivery_queue`` view). It
keeps a bounded cache of recent message states; a message that fell out of the cache is
folded again from its stream, so memory stays flat however long the log grows.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from sendtrail.core import events as ev
from sendtrail.core import projections as proj
from sendtrail.core.notifications import Publisher
from sendtrail.core.state import MessageState, RecipientState, evolve, fold

# (stream id, position) -> that stream's events recorded before the position.
StreamLoader = Callable[[str, int], list[ev.Event]]


class Logged(Protocol):
    """What a projector needs of a logged event (``StoredEvent`` has more)."""

    @property
    def position(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def event(self) -> ev.Event: ...


SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient_count INTEGER NOT NULL,
    configuration_set TEXT,
    content_sha256 TEXT,
    requested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT,
    outgoing_sha256 TEXT,
    header_message_id TEXT,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    message_id TEXT NOT NULL,
    address TEXT NOT NULL,
    domain TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_attempt_at TEXT,
    due_at TEXT,
    expires_at TEXT,
    last_status TEXT,
    last_diagnostic TEXT,
    smtp_response TEXT,
    bounce_type TEXT,
    bounce_subtype TEXT,
    updated_at TEXT NOT NULL,
    ordinal INTEGER NOT NULL,   -- the recipient's place in the request (read in this order)
    PRIMARY KEY (message_id, address)
);
-- The delivery queue: recipients still awaiting an attempt, by when it is due. A partial
-- index holds only those rows, so picking due work costs what is due, not what was sent.
CREATE INDEX IF NOT EXISTS recipients_due ON recipients (due_at) WHERE due_at IS NOT NULL;
CREATE VIEW IF NOT EXISTS delivery_queue AS
    SELECT message_id, address, domain, status, due_at FROM recipients
    WHERE due_at IS NOT NULL;
"""

_UPSERT_MESSAGE = (
    f"INSERT OR REPLACE INTO messages ({', '.join(proj.MESSAGE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(proj.MESSAGE_COLUMNS))})"
)
_UPSERT_RECIPIENT = (
    f"INSERT OR REPLACE INTO recipients ({', '.join(proj.RECIPIENT_TABLE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(proj.RECIPIENT_TABLE_COLUMNS))})"
)
_SET_ORDINAL = "UPDATE recipients SET ordinal = ? WHERE message_id = ? AND address = ?"
# Past every position: a message's whole stream, whatever was appended last.
_END_OF_LOG: Final = 2**63 - 1


def events_table_loader(db: sqlite3.Connection) -> StreamLoader:
    """Load a stream from the ``events`` table reachable through ``db``."""

    def load(stream_id: str, before: int) -> list[ev.Event]:
        # ``position < before`` is applied here, not in SQL: a stream has a few events, and
        # with the condition in SQL PostgreSQL's planner may add the position index to the
        # stream's (a bitmap AND), reading every position below ``before``: the whole log.
        rows = db.execute(
            "SELECT data, type, schema, position FROM events WHERE stream_id = ? ORDER BY version",
            (stream_id,),
        )
        return [
            ev.decode(data, event_type, schema)
            for data, event_type, schema, position in rows
            if position < before
        ]

    return load


class Projector(Protocol):
    """A read model kept in the same transactions as the log (see ``SqliteEventStore``)."""

    name: str
    tables: tuple[str, ...]

    def setup(self, db: sqlite3.Connection) -> None: ...

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None: ...

    def committed(self) -> None: ...

    def rolled_back(self) -> None: ...


class MessageProjector:
    """The message view and the delivery queue."""

    name: Final = "messages"
    tables: Final = ("messages", "recipients")

    def __init__(self, load_stream: StreamLoader | None = None, cache_size: int = 20_000) -> None:
        self._load_stream = load_stream
        # A message's state as the engine writing through this store last knew it (its
        # cache; ``Engine.cached_state``): a fold of the stream's first ``version`` events.
        self.state_hint: Callable[[str], MessageState | None] | None = None
        self._cache: OrderedDict[str, MessageState] = OrderedDict()
        self._pending: dict[str, MessageState] = {}
        self._cache_size = cache_size

    def setup(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)
        if self._load_stream is None:
            self._load_stream = events_table_loader(db)
        if "ordinal" not in _columns(db, "recipients"):
            self._add_ordinals(db)

    def _add_ordinals(self, db: sqlite3.Connection) -> None:
        """Give a ``recipients`` table made before the ``ordinal`` column its ordinals, each
        message's folded from its stream (once: a later start finds the column). A savepoint
        makes it all or nothing on both databases: on SQLite, in autocommit, it opens a
        transaction; on PostgreSQL it nests in the store's setup transaction."""
        db.execute("SAVEPOINT recipient_ordinals")
        try:
            # Added at the end, as in SCHEMA: ``SELECT *`` reads both layouts alike.
            db.execute("ALTER TABLE recipients ADD COLUMN ordinal INTEGER")
            messages = db.execute("SELECT DISTINCT message_id FROM recipients").fetchall()
            for (message_id,) in messages:
                state = self._load(message_id, _END_OF_LOG)
                if state is None:
                    continue
                db.executemany(
                    _SET_ORDINAL,
                    [
                        (ordinal, message_id, address)
                        for address, ordinal in proj.recipient_ordinals(state).items()
                    ],
                )
        except BaseException:
            db.execute("ROLLBACK TO recipient_ordinals")
            db.execute("RELEASE recipient_ordinals")
            raise
        db.execute("RELEASE recipient_ordinals")

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        pending = self._pending
        dirty: dict[tuple[str, str], tuple[int, RecipientState]] = {}
        touched: set[str] = set()
        for stored in events:
            if not isinstance(stored.event, ev.MessageEvent):
                continue
            message_id = stored.stream_id
            before = pending.get(message_id)
            if before is None:
                before = self._cache.get(message_id)
                if before is None and stored.version > 1:
                    before = self._hinted(message_id, stored.version - 1)
                if before is None and stored.version > 1:
                    before = self._load(message_id, stored.position)
            after = evolve(before, stored.event)
            for ordinal, recipient in proj.changed_recipients(before, after):
                dirty[(message_id, recipient.address)] = (ordinal, recipient)
            pending[message_id] = after
            touched.add(message_id)
        record_position(db, self.name, events[-1].position)
        if not touched:
            return
        stamp = proj.batch_timestamps()
        db.executemany(_UPSERT_MESSAGE, [proj.message_row(pending[m], stamp) for m in touched])
        db.executemany(
            _UPSERT_RECIPIENT,
            [proj.recipient_row(m, r, ordinal, stamp) for (m, _), (ordinal, r) in dirty.items()],
        )

    def committed(self) -> None:
        cache = self._cache
        for message_id, state in self._pending.items():
            cache[message_id] = state
            cache.move_to_end(message_id)
        self._pending.clear()
        while len(cache) > self._cache_size:
            cache.popitem(last=False)

    def rolled_back(self) -> None:
        self._pending.clear()

    def _hinted(self, message_id: str, version: int) -> MessageState | None:
        """The state as of ``version`` from ``state_hint``, if it has exactly that one.

        Another process may have written the message's earlier events (on a shared store, the
        API process accepts what a worker delivers), so this projector has not seen them; but
        the engine appending now has just folded them to decide. Reading that saves a load of
        the stream inside the append's transaction, which holds the log's lock.
        """
        hint = self.state_hint(message_id) if self.state_hint is not None else None
        return hint if hint is not None and hint.version == version else None

    def _load(self, message_id: str, before: int) -> MessageState | None:
        assert self._load_stream is not None, "setup() must run before apply()"
        return fold(self._load_stream(message_id, before))


class ProjectionSet:
    """Several projectors updated in the same transaction, in order."""

    def __init__(self, projectors: Sequence[Projector]) -> None:
        self.projectors = list(projectors)

    def setup(self, db: sqlite3.Connection) -> None:
        for projector in self.projectors:
            projector.setup(db)

    def apply(self, db: sqlite3.Connection, events: Sequence[Logged]) -> None:
        for projector in self.projectors:
            projector.apply(db, events)

    def committed(self) -> None:
        for projector in self.projectors:
            projector.committed()

    def rolled_back(self) -> None:
        for projector in self.projectors:
            projector.rolled_back()


def record_position(db: sqlite3.Connection, name: str, position: int) -> None:
    db.execute(
        "INSERT INTO projection_positions (name, position) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
        (name, position),
    )


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    """A table's column names, asked in a way SQLite and PostgreSQL both answer."""
    cursor = db.execute(f"SELECT * FROM {table} LIMIT 0")
    return [column[0] for column in cursor.description]


def projection_position(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT position FROM projection_positions WHERE name = ?", (name,)).fetchone()
    return 0 if row is None else int(row[0])


def default_projectors(
    load_stream: StreamLoader | None = None,
    *,
    load_content: Callable[[str], bytes | None] | None = None,
    publisher: Publisher | None = None,
) -> list[Projector]:
    """Every projection sendtrail maintains. ``load_stream`` and ``load_content`` default to
    the live log's database; ``publisher`` (region, account id) shapes notifications."""
    from .feedback_inbox import FeedbackInboxProjector
    from .outbox_projection import OutboxProjector
    from .resource_projection import ResourceProjector
    from .statistics_projection import StatisticsProjector
    from .suppression import SuppressionProjector

    return [
        MessageProjector(load_stream),
        ResourceProjector(),
        StatisticsProjector(),
        SuppressionProjector(),
        FeedbackInboxProjector(),
        OutboxProjector(load_stream, load_content, publisher=publisher),
    ]


def projection_tables() -> list[str]:
    return [table for projector in default_projectors() for table in projector.tables]
