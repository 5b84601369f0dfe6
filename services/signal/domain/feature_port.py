"""What the signal service needs from the feature store, and a cache of the rows it scored on.

The service reads features and labels from marketdata over gRPC; tests may pass the feature
store in process. Both satisfy `FeatureSource`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.store import BatchNotice


@dataclass(frozen=True)
class FeatureViewInfo:
    """The version a feature read came from."""

    name: str
    version: str
    frequency: Frequency
    features: tuple[str, ...]
    symbols: tuple[str, ...]
    watermark: datetime
    first_time: datetime | None
    last_time: datetime | None


class FeatureSource(Protocol):
    async def read_features(
        self,
        view: str,
        version: str | None,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        computed: bool = False,
    ) -> tuple[FeatureViewInfo, pa.Table]:
        """Feature rows (symbol, time, features...) of a version; `computed` computes them now
        from the latest bars with the version's definition (for bars newer than the version)."""

    async def find_view(self, view: str, version: str | None) -> FeatureViewInfo:
        """The named version (the latest when None); NotFound when there is none."""

    async def read_labels(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
        horizons: Sequence[int],
        as_of: datetime | None,
    ) -> pa.Table:
        """Forward-return and direction labels computed from the bars known at `as_of`."""

    def watch_ingests(
        self, after: datetime | None, frequency: Frequency | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        """Committed ingest batches after `after`, then live; None is a heartbeat."""


class FeatureRows:
    """Feature rows of one feature version, looked up by (symbol, time) without a round trip.

    Holds at most `max_rows` rows; the oldest inserted blocks are dropped first.
    """

    def __init__(self, max_rows: int = 2_000_000) -> None:
        self.max_rows = max_rows
        self._blocks: OrderedDict[int, pa.Table] = OrderedDict()
        self._matrices: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
        self._index: dict[tuple[str, int], tuple[int, int]] = {}
        self._latest: dict[str, int] = {}
        self._rows = 0
        self._next = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        block = self._next
        self._next += 1
        self._blocks[block] = table
        self._rows += table.num_rows
        micros = pc.cast(table.column("time"), pa.int64()).to_numpy()
        for row, (symbol, t) in enumerate(
            zip(table.column("symbol").to_pylist(), micros.tolist(), strict=True)
        ):
            self._index[(symbol, t)] = (block, row)
            if t > self._latest.get(symbol, -(2**63)):
                self._latest[symbol] = t
        while self._rows > self.max_rows and len(self._blocks) > 1:
            dropped, old = self._blocks.popitem(last=False)
            self._rows -= old.num_rows
            self._matrices = {k: v for k, v in self._matrices.items() if k[0] != dropped}
            self._index = {k: v for k, v in self._index.items() if v[0] != dropped}

    def row(self, symbol: str, time: datetime) -> pa.Table | None:
        found = self._index.get((symbol, _micros(time)))
        if found is None:
            return None
        block, row = found
        return self._blocks[block].slice(row, 1)

    def vector(self, symbol: str, time: datetime, names: tuple[str, ...]) -> np.ndarray | None:
        """The row's values of `names`, in that order (NaN for nulls), without building a
        table: the fast path of single scores. None when the row is not cached."""
        found = self._index.get((symbol, _micros(time)))
        if found is None:
            return None
        block, row = found
        key = (block, names)
        matrix = self._matrices.get(key)
        if matrix is None:
            table = self._blocks[block]
            if not set(names) <= set(table.column_names):
                return None
            matrix = np.column_stack(
                [table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names]
            )
            self._matrices[key] = matrix
        values: np.ndarray = matrix[row]
        return values

    def latest(self, symbol: str) -> datetime | None:
        """Time of the symbol's latest cached row (None when none is cached)."""
        t = self._latest.get(symbol)
        if t is None or (symbol, t) not in self._index:
            return None
        value: datetime = pa.scalar(t, pa.timestamp("us", tz="UTC")).as_py()
        return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware (or UTC-naive) datetime, as Arrow stores it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
