"""The coordination tables, kept beside the log in the store's schema.

They hold operational state, not history: nothing in them is derived from events, so a
replay neither reads nor rebuilds them, and losing them loses no mail (a claim only stops
two workers from doing the same work at once; the lease in ``AttemptStarted`` still brings an
abandoned attempt back).
"""

from __future__ import annotations

from typing import Any

import psycopg

DDL = """
CREATE TABLE IF NOT EXISTS sendtrail_workers (
    worker_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS delivery_claims (
    message_id TEXT NOT NULL,
    address TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, address)
);
CREATE INDEX IF NOT EXISTS delivery_claims_worker ON delivery_claims (worker_id);
CREATE TABLE IF NOT EXISTS notification_claims (
    notification_id TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_claims_worker ON notification_claims (worker_id);
CREATE TABLE IF NOT EXISTS domain_slots (
    domain TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    slots INTEGER NOT NULL,
    wanted INTEGER NOT NULL,
    PRIMARY KEY (domain, worker_id)
);
CREATE TABLE IF NOT EXISTS domain_tokens (
    domain TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    stamp TIMESTAMPTZ NOT NULL
);
"""

# A worker is alive while its heartbeat is younger than this many seconds (a parameter).
LIVE = "heartbeat_at >= clock_timestamp() - make_interval(secs => %(dead_after)s)"


def create_tables(conn: psycopg.Connection[Any], lock_key: int) -> None:
    """Create the tables if absent; ``lock_key`` serialises processes starting at once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        conn.execute(DDL)
