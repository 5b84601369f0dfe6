"""The regime change log: every change of a followed symbol's regime, in DuckDB, so WatchRegime
streams resume without gap or duplicate (the shared machinery of `runtime.log_streams`).

A stream is one model version (`name/version`). Following state (which symbols each stream
follows and their last label) lives beside the log, so changes are logged while nobody listens
and across restarts.

Tables (times are naive UTC TIMESTAMPs):

    regime_change_batches(sequence PRIMARY KEY, stream, bar_time, created_at)
    regime_changes(sequence, stream, symbol, bar_time, regime, previous, p1, p2, p3, p4)
    regime_follow(stream, symbol, last_time, last_regime, PRIMARY KEY (stream, symbol))
    regime_follow_watermark(id PRIMARY KEY, ingested_at)
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from services.runtime.time_convert import aware_utc, naive_utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS regime_change_batches (
    sequence BIGINT PRIMARY KEY,
    stream VARCHAR NOT NULL,
    bar_time TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS regime_changes (
    sequence BIGINT NOT NULL,
    stream VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    bar_time TIMESTAMP NOT NULL,
    regime INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    p1 DOUBLE, p2 DOUBLE, p3 DOUBLE, p4 DOUBLE,
    PRIMARY KEY (sequence, symbol)
);
CREATE TABLE IF NOT EXISTS regime_follow (
    stream VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    last_time TIMESTAMP,
    last_regime INTEGER NOT NULL,
    PRIMARY KEY (stream, symbol)
);
CREATE TABLE IF NOT EXISTS regime_follow_watermark (
    id INTEGER PRIMARY KEY,
    ingested_at TIMESTAMP NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class RegimeChangeRow:
    symbol: str
    bar_time: datetime
    regime: int
    previous: int  # 0 in a snapshot
    probabilities: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class RegimeChangeBatch:
    """The changes of one stream at one bar time, as logged under `sequence`."""

    sequence: int
    stream: str  # "name/version"
    bar_time: datetime
    created_at: datetime
    changes: tuple[RegimeChangeRow, ...]

    def only(self, symbols: frozenset[str] | None) -> RegimeChangeBatch | None:
        if symbols is None:
            return self
        kept = tuple(c for c in self.changes if c.symbol in symbols)
        if not kept:
            return None
        if len(kept) == len(self.changes):
            return self
        return RegimeChangeBatch(self.sequence, self.stream, self.bar_time, self.created_at, kept)


@dataclass(frozen=True, slots=True)
class Followed:
    symbol: str
    last_time: datetime | None
    last_regime: int


class RegimeChangeLog:
    """Append and read change batches, and the following state. Appends are serialized."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection.cursor()
        self._lock = threading.Lock()
        self._db.execute(_SCHEMA)
        row = self._db.execute(
            "SELECT coalesce(max(sequence), 0) FROM regime_change_batches"
        ).fetchone()
        self._last = int(row[0]) if row else 0

    @property
    def last_sequence(self) -> int:
        return self._last

    def append(
        self,
        stream: str,
        bar_time: datetime,
        changes: Sequence[RegimeChangeRow],
        follow_updates: Sequence[Followed] = (),
    ) -> RegimeChangeBatch | None:
        """Log the changes at one bar time and move the followed labels, in one transaction.

        Returns the batch, or None when `changes` is empty (the follow updates still apply).
        """
        ordered = tuple(sorted(changes, key=lambda c: c.symbol))
        with self._lock:
            sequence = self._last + 1
            created = datetime.now(UTC)
            self._db.execute("BEGIN TRANSACTION")
            try:
                if ordered:
                    self._db.execute(
                        "INSERT INTO regime_change_batches VALUES (?, ?, ?, ?)",
                        [sequence, stream, naive_utc(bar_time), naive_utc(created)],
                    )
                    self._db.executemany(
                        "INSERT INTO regime_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            [
                                sequence,
                                stream,
                                c.symbol,
                                naive_utc(c.bar_time),
                                c.regime,
                                c.previous,
                                *c.probabilities,
                            ]
                            for c in ordered
                        ],
                    )
                self._move(stream, follow_updates)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if not ordered:
                return None
            self._last = sequence
        return RegimeChangeBatch(sequence, stream, bar_time, created, ordered)

    def _move(self, stream: str, updates: Sequence[Followed]) -> None:
        for f in updates:
            self._db.execute(
                "INSERT INTO regime_follow VALUES (?, ?, ?, ?) ON CONFLICT (stream, symbol) "
                "DO UPDATE SET last_time = excluded.last_time, "
                "last_regime = excluded.last_regime",
                [stream, f.symbol, naive_utc(f.last_time), f.last_regime],
            )

    def read_after(
        self, cursor: int, stream: str, symbols: frozenset[str] | None, limit: int
    ) -> list[RegimeChangeBatch]:
        params: list[object] = [stream, cursor]
        where = "stream = ? AND sequence > ?"
        if symbols is not None:
            where += " AND list_contains(?::VARCHAR[], symbol)"
            params.append(sorted(symbols))
        params.append(limit)
        query = f"""
            SELECT c.sequence, b.bar_time, b.created_at, c.symbol, c.bar_time, c.regime,
                   c.previous, c.p1, c.p2, c.p3, c.p4
            FROM (SELECT DISTINCT sequence FROM regime_changes WHERE {where}
                  ORDER BY sequence LIMIT ?) p
            JOIN regime_change_batches b ON b.sequence = p.sequence
            JOIN regime_changes c ON c.sequence = p.sequence
            ORDER BY c.sequence, c.symbol
        """
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        batches: list[RegimeChangeBatch] = []
        current: list[RegimeChangeRow] = []
        for i, row in enumerate(rows):
            seq, batch_time, created, symbol, bar_time, regime, previous, *p = row
            if symbols is None or symbol in symbols:
                current.append(
                    RegimeChangeRow(symbol, aware_utc(bar_time), regime, previous, tuple(p))
                )
            if i + 1 == len(rows) or rows[i + 1][0] != seq:
                if current:
                    batches.append(
                        RegimeChangeBatch(
                            int(seq),
                            stream,
                            aware_utc(batch_time),
                            aware_utc(created),
                            tuple(current),
                        )
                    )
                current = []
        return batches

    def follow(self, stream: str, baseline: Sequence[Followed]) -> None:
        """Start following symbols at their baseline label; already followed ones keep theirs."""
        with self._lock:
            for f in baseline:
                self._db.execute(
                    "INSERT INTO regime_follow VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        stream,
                        f.symbol,
                        naive_utc(f.last_time),
                        f.last_regime,
                    ],
                )

    def followed(self, symbols: Collection[str] | None = None) -> dict[str, list[Followed]]:
        """Followed symbols by stream (only `symbols` when given)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, symbol, last_time, last_regime FROM regime_follow "
                "ORDER BY stream, symbol"
            ).fetchall()
        out: dict[str, list[Followed]] = {}
        for stream, symbol, last_time, last_regime in rows:
            if symbols is None or symbol in symbols:
                out.setdefault(stream, []).append(
                    Followed(symbol, aware_utc(last_time), int(last_regime))
                )
        return out

    def watermark(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT ingested_at FROM regime_follow_watermark").fetchone()
        return aware_utc(row[0]) if row else None

    def set_watermark(self, ingested_at: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO regime_follow_watermark VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
                "SET ingested_at = greatest(ingested_at, excluded.ingested_at)",
                [naive_utc(ingested_at)],
            )
