"""The registry of materialized feature view versions, in the marketdata DuckDB database.

One row per (name, version): the definition (canonical JSON) and its hash, the bar frequency,
the symbol universe, the data watermark (latest `ingested_at` of the bars used), row and symbol
counts, the time extent, when it was created, and the table holding its values. Times are stored
as naive UTC TIMESTAMPs, like the bars.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.features.definition import FeatureViewDefinition

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS feature_versions (
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    definition_hash VARCHAR NOT NULL,
    definition VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    feature_names VARCHAR[] NOT NULL,
    symbols VARCHAR[] NOT NULL,
    watermark TIMESTAMP NOT NULL,
    first_time TIMESTAMP,
    last_time TIMESTAMP,
    row_count BIGINT NOT NULL,
    symbol_count INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    value_table VARCHAR NOT NULL,
    PRIMARY KEY (name, version)
)
"""

_COLUMNS = (
    "name, version, definition_hash, definition, frequency, feature_names, symbols, watermark, "
    "first_time, last_time, row_count, symbol_count, created_at, value_table"
)


@dataclass(frozen=True)
class FeatureViewVersion:
    """One immutable materialization of a feature view. Times are UTC-aware."""

    name: str
    version: str
    definition: FeatureViewDefinition
    definition_hash: str
    frequency: Frequency
    feature_names: tuple[str, ...]
    symbols: tuple[str, ...]
    watermark: datetime
    first_time: datetime | None
    last_time: datetime | None
    row_count: int
    symbol_count: int
    created_at: datetime
    value_table: str


def version_id(
    definition_hash: str, frequency: Frequency, symbols: Sequence[str], watermark: datetime
) -> str:
    """`<definition hash, 12 hex>-<data snapshot hash, 8 hex>`: equal inputs, equal version.

    The snapshot is the frequency, the symbol universe and the watermark: together they fix the
    bars a materialization reads (every ingest that touches them moves the watermark).
    """
    snapshot = json.dumps(
        [frequency.value, sorted(symbols), _naive(watermark).isoformat()], separators=(",", ":")
    )
    return f"{definition_hash[:12]}-{hashlib.sha256(snapshot.encode()).hexdigest()[:8]}"


def value_table_name(name: str, version: str) -> str:
    """The table of a version's values (name and version are identifier-safe)."""
    return f"feature_values__{name}__{version.replace('-', '_')}"


def insert(cursor: duckdb.DuckDBPyConnection, v: FeatureViewVersion) -> None:
    cursor.execute(
        f"INSERT INTO feature_versions ({_COLUMNS}) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            v.name,
            v.version,
            v.definition_hash,
            v.definition.to_json(),
            v.frequency.value,
            list(v.feature_names),
            list(v.symbols),
            _naive(v.watermark),
            _naive(v.first_time) if v.first_time else None,
            _naive(v.last_time) if v.last_time else None,
            v.row_count,
            v.symbol_count,
            _naive(v.created_at),
            v.value_table,
        ],
    )


def select(
    cursor: duckdb.DuckDBPyConnection,
    name: str | None = None,
    version: str | None = None,
    created_by: datetime | None = None,
    latest_only: bool = False,
) -> list[FeatureViewVersion]:
    """Versions matching the filters, by name then creation time (latest_only: the last)."""
    where: list[str] = ["TRUE"]
    params: list[object] = []
    for column, value in (("name", name), ("version", version)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if created_by is not None:
        where.append("created_at <= ?")
        params.append(_naive(created_by))
    order = "created_at DESC LIMIT 1" if latest_only else "name, created_at"
    rows = cursor.execute(
        f"SELECT {_COLUMNS} FROM feature_versions WHERE {' AND '.join(where)} ORDER BY {order}",
        params,
    ).fetchall()
    return [_from_row(row) for row in rows]


def has_name(cursor: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether any version is stored under `name`."""
    row = cursor.execute("SELECT count(*) FROM feature_versions WHERE name = ?", [name]).fetchone()
    return bool(row and row[0])


def delete(cursor: duckdb.DuckDBPyConnection, name: str, version: str) -> None:
    cursor.execute("DELETE FROM feature_versions WHERE name = ? AND version = ?", [name, version])


def latest_created_at(cursor: duckdb.DuckDBPyConnection) -> datetime | None:
    row = cursor.execute("SELECT max(created_at) FROM feature_versions").fetchone()
    return row[0].replace(tzinfo=UTC) if row and row[0] is not None else None


def _from_row(row: tuple[object, ...]) -> FeatureViewVersion:
    (name, version, definition_hash, definition, frequency, features, symbols, watermark,
     first, last, rows, n_symbols, created_at, table) = row  # fmt: skip
    return FeatureViewVersion(
        name=str(name),
        version=str(version),
        definition=FeatureViewDefinition.from_json(str(definition)),
        definition_hash=str(definition_hash),
        frequency=Frequency(str(frequency)),
        feature_names=tuple(str(f) for f in _items(features)),
        symbols=tuple(str(s) for s in _items(symbols)),
        watermark=_aware(watermark),
        first_time=_aware(first) if first is not None else None,
        last_time=_aware(last) if last is not None else None,
        row_count=int(rows),  # type: ignore[call-overload]
        symbol_count=int(n_symbols),  # type: ignore[call-overload]
        created_at=_aware(created_at),
        value_table=str(table),
    )


def _items(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def _aware(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
