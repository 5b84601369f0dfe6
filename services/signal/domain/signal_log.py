"""The signal log: every published signal batch in DuckDB, so subscribers can resume.

A batch carries the signals of every symbol scored for one stream (a model alias,
`name@alias`) at one bar time. Batches get a global `sequence`, strictly increasing in commit
order (one writer: appends are serialized), which is the resume cursor of SubscribeSignals.

Tables (times are naive UTC TIMESTAMPs):

    signal_batches(sequence BIGINT PRIMARY KEY, stream, model_version, feature_view_version,
                   bar_time, created_at, signal_count)
    signals(sequence, stream, model_version, bar_time, symbol, score,
            PRIMARY KEY (stream, model_version, bar_time, symbol))

Appends are atomic (one transaction for a batch and its signals) and idempotent: a signal whose
(stream, model version, bar time, symbol) is already logged is left out, and a batch with no new
signal is not written at all. So re-scoring the same bars after a restart adds nothing, while a
new model version behind the alias adds a new batch for the same bar time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from services.runtime.errors import InvalidArgument

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signal_batches (
    sequence BIGINT PRIMARY KEY,
    stream VARCHAR NOT NULL,
    model_version INTEGER NOT NULL,
    feature_view_version VARCHAR NOT NULL,
    bar_time TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    signal_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    sequence BIGINT NOT NULL,
    stream VARCHAR NOT NULL,
    model_version INTEGER NOT NULL,
    bar_time TIMESTAMP NOT NULL,
    symbol VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    PRIMARY KEY (stream, model_version, bar_time, symbol)
);
"""


@dataclass(frozen=True, slots=True)
class Signal:
    symbol: str
    score: float


@dataclass(frozen=True, slots=True)
class SignalBatch:
    """The signals of one stream at one bar time, as logged under `sequence`."""

    sequence: int
    stream: str  # "name@alias"
    model_version: int
    feature_view_version: str
    bar_time: datetime
    created_at: datetime
    signals: tuple[Signal, ...]

    def only(self, symbols: frozenset[str] | None) -> SignalBatch | None:
        """The batch cut to `symbols` (None: all); None when none of them is in it."""
        if symbols is None:
            return self
        kept = tuple(s for s in self.signals if s.symbol in symbols)
        if not kept:
            return None
        if len(kept) == len(self.signals):
            return self
        return SignalBatch(
            self.sequence,
            self.stream,
            self.model_version,
            self.feature_view_version,
            self.bar_time,
            self.created_at,
            kept,
        )


class SignalLog:
    """Append and read signal batches. The connection must not be used by others meanwhile."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._db.execute(_SCHEMA)
        row = self._db.execute("SELECT coalesce(max(sequence), 0) FROM signal_batches").fetchone()
        self._last = int(row[0]) if row else 0

    @property
    def last_sequence(self) -> int:
        """The sequence of the newest batch (0 for an empty log)."""
        return self._last

    def append(
        self,
        stream: str,
        model_version: int,
        feature_view_version: str,
        bar_time: datetime,
        signals: Sequence[Signal],
    ) -> SignalBatch | None:
        """Log the batch; returns it as written (new signals only), or None if none was new."""
        _check_signals(signals)
        at = _naive(bar_time)
        with self._lock:
            known = {
                r[0]
                for r in self._db.execute(
                    "SELECT symbol FROM signals WHERE stream = ? AND model_version = ? "
                    "AND bar_time = ?",
                    [stream, model_version, at],
                ).fetchall()
            }
            fresh = tuple(sorted((s for s in signals if s.symbol not in known), key=_symbol))
            if not fresh:
                return None
            sequence = self._last + 1
            created = datetime.now(UTC)
            incoming = pa.table(
                {
                    "symbol": pa.array([s.symbol for s in fresh], pa.string()),
                    "score": pa.array([s.score for s in fresh], pa.float64()),
                }
            )
            self._db.execute("BEGIN TRANSACTION")
            try:
                self._db.execute(
                    "INSERT INTO signal_batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        sequence,
                        stream,
                        model_version,
                        feature_view_version,
                        at,
                        _naive(created),
                        len(fresh),
                    ],
                )
                self._db.register("_incoming_signals", incoming)
                self._db.execute(
                    "INSERT INTO signals SELECT ?, ?, ?, ?, symbol, score FROM _incoming_signals",
                    [sequence, stream, model_version, at],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._db.unregister("_incoming_signals")
            self._last = sequence
        return SignalBatch(
            sequence, stream, model_version, feature_view_version, _aware(at), created, fresh
        )

    def read_after(
        self,
        sequence: int,
        stream: str,
        symbols: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[SignalBatch]:
        """The stream's batches after `sequence`, oldest first, cut to `symbols` (None: all).

        Batches without any of the symbols are skipped; `limit` caps the batches returned.
        """
        if sequence < 0:
            raise InvalidArgument.for_field("resume_after", f"{sequence} is negative")
        params: list[object] = [stream, sequence]
        where = "stream = ? AND sequence > ?"
        if symbols is not None:
            where += " AND list_contains(?::VARCHAR[], symbol)"
            params.append(sorted(set(symbols)))
        page = f"SELECT DISTINCT sequence FROM signals WHERE {where} ORDER BY sequence"
        if limit is not None:
            page += " LIMIT ?"
            params.append(int(limit))
        signal_filter = ""
        if symbols is not None:
            signal_filter = "AND list_contains(?::VARCHAR[], s.symbol)"
            params.append(sorted(set(symbols)))
        query = f"""
            SELECT b.sequence, b.model_version, b.feature_view_version, b.bar_time, b.created_at,
                   s.symbol, s.score
            FROM ({page}) p
            JOIN signal_batches b ON b.sequence = p.sequence
            JOIN signals s ON s.sequence = b.sequence {signal_filter}
            ORDER BY b.sequence, s.symbol
        """
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        batches: list[SignalBatch] = []
        current: list[Signal] = []
        for i, (seq, version, fv, bar_time, created, symbol, score) in enumerate(rows):
            current.append(Signal(symbol, score))
            if i + 1 == len(rows) or rows[i + 1][0] != seq:
                batches.append(
                    SignalBatch(
                        int(seq),
                        stream,
                        int(version),
                        fv,
                        _aware(bar_time),
                        _aware(created),
                        tuple(current),
                    )
                )
                current = []
        return batches


def _check_signals(signals: Sequence[Signal]) -> None:
    seen: set[str] = set()
    for i, signal in enumerate(signals):
        if not signal.symbol:
            raise InvalidArgument.for_field(f"signals[{i}].symbol", "is empty")
        if signal.symbol in seen:
            raise InvalidArgument.for_field(f"signals[{i}].symbol", f"{signal.symbol} twice")
        if not math.isfinite(signal.score):
            raise InvalidArgument.for_field(f"signals[{i}].score", f"{signal.score} is not finite")
        seen.add(signal.symbol)


def _symbol(signal: Signal) -> str:
    return signal.symbol


def _naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)
