"""What the live scorer follows, kept in the signal database so it survives restarts.

The followed streams (`name@alias`, added on first subscription) are scored on every ingest,
also while nobody listens; the watermark is the knowledge time of the last ingest batch scored,
from which the scorer resumes after a restart. The list of streams is kept in memory once read
(this object is the only writer of its table), so scoring an ingest does not query it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import duckdb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS followed_streams (
    stream VARCHAR PRIMARY KEY,
    added_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS follow_watermark (
    id INTEGER PRIMARY KEY,
    ingested_at TIMESTAMP NOT NULL
);
"""


class FollowState:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection.cursor()
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._streams: list[str] | None = None

    def add_stream(self, stream: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO followed_streams VALUES (?, ?) ON CONFLICT DO NOTHING",
                [stream, datetime.now(UTC).replace(tzinfo=None)],
            )
            if self._streams is not None and stream not in self._streams:
                self._streams = sorted([*self._streams, stream])

    def streams(self) -> list[str]:
        """The followed streams, in name order."""
        with self._lock:
            if self._streams is None:
                rows = self._db.execute(
                    "SELECT stream FROM followed_streams ORDER BY stream"
                ).fetchall()
                self._streams = [r[0] for r in rows]
            return list(self._streams)

    def known_streams(self) -> list[str] | None:
        """`streams()` when already in memory (no I/O), else None."""
        with self._lock:
            return None if self._streams is None else list(self._streams)

    def watermark(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT ingested_at FROM follow_watermark").fetchone()
        return row[0].replace(tzinfo=UTC) if row else None

    def set_watermark(self, ingested_at: datetime) -> None:
        naive = ingested_at.astimezone(UTC).replace(tzinfo=None)
        with self._lock:
            self._db.execute(
                "INSERT INTO follow_watermark VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
                "SET ingested_at = greatest(ingested_at, excluded.ingested_at)",
                [naive],
            )
