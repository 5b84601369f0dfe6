"""In-process sources over tables held in memory (tests, notebooks, benchmarks).

Each takes an Arrow table or a pandas DataFrame in the long layout (symbol, time, values...);
`wide_to_long` turns a wide frame (times x symbols) into it. Each records its calls in `calls`,
so a test can check the engine reads in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backtest.config import Frequency
from backtest.market import time_micros, to_micros
from services.runtime.errors import NotFound

Data: TypeAlias = pa.Table | pd.DataFrame


def as_table(data: Data) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def wide_to_long(frame: pd.DataFrame, value: str) -> pa.Table:
    """A times x symbols frame (DatetimeIndex rows, one column per symbol) as a long table
    (symbol, time, `value`); missing cells are dropped."""
    stacked = frame.rename_axis(index="time", columns="symbol").stack()
    table = pd.DataFrame({value: stacked}).reset_index()[["symbol", "time", value]]
    return pa.Table.from_pandas(table, preserve_index=False)


def select(
    table: pa.Table, symbols: Sequence[str], start: datetime | None, end: datetime | None
) -> pa.Table:
    """Rows of `symbols` with start <= time < end."""
    mask = pc.is_in(table.column("symbol"), value_set=pa.array(list(symbols), pa.string()))
    keep = np.asarray(pc.fill_null(mask, False))
    times = time_micros(table.column("time"))
    if start is not None:
        keep &= times >= to_micros(start)
    if end is not None:
        keep &= times < to_micros(end)
    return table.filter(pa.array(keep))


class MemoryBars:
    def __init__(self, bars: Data) -> None:
        self.table = as_table(bars)
        self.calls: list[tuple[tuple[str, ...], Frequency, datetime | None, datetime | None]] = []

    async def bars(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        self.calls.append((tuple(symbols), frequency, start, end))
        return select(self.table, symbols, start, end)


class MemorySignals:
    """Scores per model name; a single table answers for every model."""

    def __init__(self, scores: Data | Mapping[str, Data]) -> None:
        if isinstance(scores, Mapping):
            self.tables: dict[str, pa.Table] | pa.Table = {
                k: as_table(v) for k, v in scores.items()
            }
        else:
            self.tables = as_table(scores)
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def scores(
        self,
        model: str,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        self.calls.append((model, tuple(symbols)))
        return select(_for_model(self.tables, model), symbols, start, end)


class MemoryRegimes:
    """Regime labels per model name; a single table answers for every model."""

    def __init__(self, labels: Data | Mapping[str, Data]) -> None:
        if isinstance(labels, Mapping):
            self.tables: dict[str, pa.Table] | pa.Table = {
                k: as_table(v) for k, v in labels.items()
            }
        else:
            self.tables = as_table(labels)
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def regimes(
        self,
        model: str,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        self.calls.append((model, tuple(symbols)))
        return select(_for_model(self.tables, model), symbols, start, end)


class MemoryFeatures:
    """One feature table (symbol, time, features...) answering for any view and version."""

    def __init__(self, features: Data) -> None:
        self.table = as_table(features)
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def features(
        self,
        view: str,
        version: str | None,
        names: Sequence[str],
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        self.calls.append((view, tuple(names)))
        present = [n for n in names if n in self.table.column_names]
        return select(self.table.select(["symbol", "time", *present]), symbols, start, end)


def _for_model(tables: Mapping[str, pa.Table] | pa.Table, model: str) -> pa.Table:
    if isinstance(tables, pa.Table):
        return tables
    if model not in tables:
        raise NotFound(f"no model {model!r}", metadata={"model": model})
    return tables[model]
