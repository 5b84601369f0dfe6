"""Streaming reads of one version's feature values as Arrow record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.features.schemas import conform_batch, feature_schema

DEFAULT_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class FeatureScan:
    """A validated read: the version it reads, its schema, and its rows as record batches.

    Nothing runs until `batches()` is iterated; each iteration runs the query afresh on its own
    cursor (closed at the end), so a scan can be consumed from any thread, once or again.
    """

    version: FeatureViewVersion
    schema: pa.Schema
    _open: Callable[[], Iterator[pa.RecordBatch]]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Rows ordered by symbol then time, in batches of at most the scan's batch size."""
        return self._open()

    def to_table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)


def plan_scan(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    version: FeatureViewVersion,
    features: Sequence[str],
    symbols: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    batch_rows: int,
) -> FeatureScan:
    """A scan of `version`'s values of `features` (validated by the caller) for `symbols` (all
    when empty) in [start, end) (naive UTC bounds, None: open)."""
    params: dict[str, object] = {}
    where = ["TRUE"]
    if symbols:
        where.append("list_contains($symbols, symbol)")
        params["symbols"] = list(symbols)
    if start is not None:
        where.append("time >= $start")
        params["start"] = start
    if end is not None:
        where.append("time < $end")
        params["end"] = end
    sql = (
        f"SELECT symbol, time, {', '.join(features)} FROM {version.value_table} "
        f"WHERE {' AND '.join(where)} ORDER BY symbol, time"
    )
    schema = feature_schema(features)

    def batches() -> Iterator[pa.RecordBatch]:
        cursor = connect()
        try:
            reader = cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
            for batch in reader:
                yield conform_batch(batch, schema)
        finally:
            cursor.close()

    return FeatureScan(version, schema, batches)
