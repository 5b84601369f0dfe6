"""The webhook outbox: one row per (event, URL) in the events database.

Rows are written in the same transaction as their events, so an event that is stored is also
queued. A row is pending until a 2xx answer marks it delivered; failures push its next attempt
back (exponential backoff with jitter, capped). Rows survive restarts: a new dispatcher on the
same database file picks them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import duckdb

from services.quality.domain.events import DataQualityEvent
from services.quality.domain.webhooks import WebhookConfig, idempotency_key, payload

OUTBOX_SQL = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    key VARCHAR PRIMARY KEY,
    event_id VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    last_error VARCHAR
);
"""


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Delivery:
    """One pending POST."""

    key: str
    event_id: str
    url: str
    body: str
    attempts: int


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    delivered: int
    dead: int


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def enqueue(
    cursor: duckdb.DuckDBPyConnection,
    events: Sequence[DataQualityEvent],
    config: WebhookConfig,
    now: datetime,
) -> int:
    """Queue every event at or above the config's severity for every URL; returns rows added."""
    rows: list[list[Any]] = []
    for event in events:
        if event.severity < config.min_severity:
            continue
        for url in config.urls:
            key = idempotency_key(event.id, url)
            rows.append(
                [
                    key,
                    event.id,
                    url,
                    payload(event, key),
                    DeliveryState.PENDING.value,
                    0,
                    naive(now),
                    naive(now),
                ]
            )
    if rows:
        cursor.executemany(
            "INSERT INTO webhook_outbox (key, event_id, url, body, state, attempts, "
            "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


def due(cursor: duckdb.DuckDBPyConnection, now: datetime, limit: int) -> list[Delivery]:
    rows = cursor.execute(
        "SELECT key, event_id, url, body, attempts FROM webhook_outbox "
        "WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, key LIMIT ?",
        [DeliveryState.PENDING.value, naive(now), limit],
    ).fetchall()
    return [Delivery(*row) for row in rows]


def next_due(cursor: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the earliest pending row is due (aware UTC), None when nothing is pending."""
    row = cursor.execute(
        "SELECT min(next_attempt_at) FROM webhook_outbox WHERE state = ?",
        [DeliveryState.PENDING.value],
    ).fetchone()
    return row[0].replace(tzinfo=UTC) if row and row[0] is not None else None


def mark_delivered(
    cursor: duckdb.DuckDBPyConnection, key: str, attempts: int, now: datetime
) -> None:
    cursor.execute(
        "UPDATE webhook_outbox SET state = ?, attempts = ?, delivered_at = ?, last_error = NULL "
        "WHERE key = ?",
        [DeliveryState.DELIVERED.value, attempts, naive(now), key],
    )


def mark_failed(
    cursor: duckdb.DuckDBPyConnection,
    key: str,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
    dead: bool,
) -> None:
    state = DeliveryState.DEAD if dead else DeliveryState.PENDING
    cursor.execute(
        "UPDATE webhook_outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? "
        "WHERE key = ?",
        [state.value, attempts, naive(next_attempt_at), error[:500], key],
    )


def stats(cursor: duckdb.DuckDBPyConnection) -> OutboxStats:
    counts = dict(
        cursor.execute("SELECT state, count(*) FROM webhook_outbox GROUP BY state").fetchall()
    )
    return OutboxStats(
        pending=int(counts.get(DeliveryState.PENDING.value, 0)),
        delivered=int(counts.get(DeliveryState.DELIVERED.value, 0)),
        dead=int(counts.get(DeliveryState.DEAD.value, 0)),
    )
