"""Arrow layouts of feature and label tables, and conforming DuckDB results to them."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from services.marketdata.domain.bar_table import TIME_TYPE

KEY_FIELDS = (
    pa.field("symbol", pa.string(), nullable=False),
    pa.field("time", TIME_TYPE, nullable=False),
)


def feature_schema(feature_names: Sequence[str]) -> pa.Schema:
    """symbol, time (UTC) and one float64 column per feature, in the given order."""
    return pa.schema([*KEY_FIELDS, *(pa.field(name, pa.float64()) for name in feature_names)])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table`'s columns in `schema`'s order and types (DuckDB hands back naive times)."""
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`conform` for one record batch."""
    return pa.RecordBatch.from_arrays(
        [batch.column(f.name).cast(f.type) for f in schema], schema=schema
    )
