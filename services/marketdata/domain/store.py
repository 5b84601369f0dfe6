"""Bitemporal bar storage in DuckDB.

Every row carries the knowledge time it was ingested at. Re-ingesting a bar with different values
adds a revision; identical values add nothing. Reads return, per (symbol, frequency, time), the
latest revision ingested at or before `as_of`. Times are stored as naive UTC TIMESTAMPs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from services.marketdata.domain.bar_table import (
    STORED_BAR_SCHEMA,
    TIME_TYPE,
    Frequency,
)

_VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "adj_close")
_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS bars (
    symbol VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    time TIMESTAMP NOT NULL,
    open DOUBLE NOT NULL,
    high DOUBLE NOT NULL,
    low DOUBLE NOT NULL,
    close DOUBLE NOT NULL,
    volume DOUBLE NOT NULL,
    adj_close DOUBLE,
    ingested_at TIMESTAMP NOT NULL,
    batch_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_batches (
    batch_id VARCHAR PRIMARY KEY,
    ingested_at TIMESTAMP NOT NULL,
    frequency VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    rows_received BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_revised BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    quality_gate VARCHAR NOT NULL
);
"""


@dataclass(frozen=True)
class SymbolCounts:
    symbol: str
    received: int
    inserted: int
    revised: int
    unchanged: int


@dataclass(frozen=True)
class CommitResult:
    ingested_at: datetime
    symbols: list[SymbolCounts]


@dataclass(frozen=True)
class Coverage:
    symbol: str
    frequency: Frequency
    first_time: datetime
    last_time: datetime
    row_count: int


def open_database(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating folders) the DuckDB file at `path`; ":memory:" for a throwaway database."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))


def _latest_sql(where: str) -> str:
    return f"""
        SELECT symbol, time, open, high, low, close, volume, adj_close, ingested_at
        FROM bars WHERE {where}
        QUALIFY row_number() OVER (PARTITION BY symbol, time ORDER BY ingested_at DESC) = 1
    """


class BarStore:
    """Writes are serialized (one writer); reads run concurrently on their own cursors."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection
        self._db.execute(_SCHEMA_SQL)
        self._write_lock = threading.Lock()
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._db.cursor()
            self._local.cursor = cursor
        return cursor

    def _next_ingestion_time(self, cursor: duckdb.DuckDBPyConnection) -> datetime:
        """Now, but strictly after every stored knowledge time, so revisions stay ordered."""
        now = datetime.now(UTC).replace(tzinfo=None)
        (latest,) = cursor.execute("SELECT max(ingested_at) FROM bars").fetchone() or (None,)
        if latest is not None and latest >= now:
            now = latest + timedelta(microseconds=1)
        return now

    def commit(
        self,
        bars: pa.Table,
        frequency: Frequency,
        source: str,
        batch_id: str,
        quality_gate: str,
    ) -> CommitResult:
        """Store a validated batch atomically; returns per-symbol change counts."""
        naive_times = bars.column("time").cast(pa.timestamp("us"))
        incoming = bars.set_column(bars.schema.get_field_index("time"), "time", naive_times)
        with self._write_lock:
            cursor = self._cursor()
            cursor.register("incoming", incoming)
            try:
                cursor.execute("BEGIN TRANSACTION")
                ingested_at = self._next_ingestion_time(cursor)
                changed = " OR ".join(f"n.{c} IS DISTINCT FROM l.{c}" for c in _VALUE_COLUMNS)
                cursor.execute(
                    f"""
                    CREATE OR REPLACE TEMP TABLE classified AS
                    WITH latest AS ({
                        _latest_sql(
                            "frequency = $freq "
                            "AND symbol IN (SELECT DISTINCT symbol FROM incoming) "
                            "AND time BETWEEN (SELECT min(time) FROM incoming) "
                            "AND (SELECT max(time) FROM incoming)"
                        )
                    })
                    SELECT n.*, CASE WHEN l.time IS NULL THEN 'inserted'
                                     WHEN {changed} THEN 'revised'
                                     ELSE 'unchanged' END AS change
                    FROM incoming n LEFT JOIN latest l USING (symbol, time)
                    """,
                    {"freq": frequency.value},
                )
                cursor.execute(
                    """
                    INSERT INTO bars SELECT symbol, $freq, time, open, high, low, close, volume,
                        adj_close, $at, $batch, $source
                    FROM classified WHERE change <> 'unchanged'
                    """,
                    {
                        "freq": frequency.value,
                        "at": ingested_at,
                        "batch": batch_id,
                        "source": source,
                    },
                )
                rows = cursor.execute(
                    """
                    SELECT symbol, count(*),
                        count(*) FILTER (WHERE change = 'inserted'),
                        count(*) FILTER (WHERE change = 'revised'),
                        count(*) FILTER (WHERE change = 'unchanged')
                    FROM classified GROUP BY symbol ORDER BY symbol
                    """
                ).fetchall()
                counts = [SymbolCounts(*row) for row in rows]
                cursor.execute(
                    "INSERT INTO ingest_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        batch_id,
                        ingested_at,
                        frequency.value,
                        source,
                        bars.num_rows,
                        sum(c.inserted for c in counts),
                        sum(c.revised for c in counts),
                        sum(c.unchanged for c in counts),
                        quality_gate,
                    ],
                )
                cursor.execute("DROP TABLE classified")
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.unregister("incoming")
        return CommitResult(ingested_at.replace(tzinfo=UTC), counts)

    def read(
        self,
        symbols: list[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None,
    ) -> pa.Table:
        """Latest revisions known at `as_of`, ordered by symbol then time, in STORED_BAR_SCHEMA."""
        where = ["frequency = $freq"]
        params: dict[str, object] = {"freq": frequency.value}
        if symbols:
            where.append("symbol IN (SELECT unnest($symbols))")
            params["symbols"] = symbols
        if start is not None:
            where.append("time >= $start")
            params["start"] = _naive(start)
        if end is not None:
            where.append("time < $end")
            params["end"] = _naive(end)
        if as_of is not None:
            where.append("ingested_at <= $as_of")
            params["as_of"] = _naive(as_of)
        sql = _latest_sql(" AND ".join(where)) + " ORDER BY symbol, time"
        table = self._cursor().sql(sql, params=params).to_arrow_table()
        return _to_stored_schema(table)

    def coverage(
        self,
        frequency: Frequency | None = None,
        symbols: list[str] | None = None,
        prefix: str = "",
        after: str | None = None,
        limit: int | None = None,
        as_of: datetime | None = None,
    ) -> list[Coverage]:
        """First/last time and distinct bar count per (symbol, frequency), in symbol order."""
        where = ["true"]
        params: dict[str, object] = {}
        if frequency is not None:
            where.append("frequency = $freq")
            params["freq"] = frequency.value
        if symbols:
            where.append("symbol IN (SELECT unnest($symbols))")
            params["symbols"] = symbols
        if prefix:
            where.append("starts_with(symbol, $prefix)")
            params["prefix"] = prefix.upper()
        if as_of is not None:
            where.append("ingested_at <= $as_of")
            params["as_of"] = _naive(as_of)
        symbol_where = list(where)
        if after is not None:
            symbol_where.append("symbol > $after")
            params["after"] = after
        page = "SELECT DISTINCT symbol FROM bars WHERE " + " AND ".join(symbol_where)
        page += " ORDER BY symbol" + (f" LIMIT {int(limit)}" if limit is not None else "")
        rows = (
            self._cursor()
            .execute(
                f"""
            SELECT symbol, frequency, min(time), max(time), count(DISTINCT time)
            FROM bars WHERE {" AND ".join(where)} AND symbol IN ({page})
            GROUP BY symbol, frequency ORDER BY symbol, frequency
            """,
                params,
            )
            .fetchall()
        )
        return [
            Coverage(s, Frequency(f), first.replace(tzinfo=UTC), last.replace(tzinfo=UTC), n)
            for s, f, first, last, n in rows
        ]

    def close(self) -> None:
        self._db.close()


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _to_stored_schema(table: pa.Table) -> pa.Table:
    arrays = []
    for field in STORED_BAR_SCHEMA:
        column = table.column(field.name)
        arrays.append(column.cast(TIME_TYPE) if field.type == TIME_TYPE else column)
    return pa.Table.from_arrays(arrays, schema=STORED_BAR_SCHEMA)
