"""The panel: a batch's bars and the history of its symbols as one sorted set of series.

Rules and models look at each batch bar in the context of the bars before it. The panel holds
history rows and batch rows of the batch's symbols, sorted by symbol then time, as flat numpy
arrays with group boundaries, so every check is a vectorised pass over all symbols at once. A
batch row replaces a history row with the same symbol and time (a revision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import BAR_SCHEMA, PRICE_COLUMNS


@dataclass(frozen=True)
class Panel:
    """Rows sorted by (symbol, time); `row` is the batch row index, -1 for history rows."""

    symbols: list[str]
    group: np.ndarray
    group_start: np.ndarray
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    @property
    def targets(self) -> np.ndarray:
        """Panel indices of the batch rows, ascending."""
        return np.flatnonzero(self.row >= 0)

    def previous(self) -> np.ndarray:
        """Index of the row before each row in its group; -1 for a group's first row."""
        index = np.arange(len(self.time)) - 1
        return np.where(index >= self.group_start, index, -1)

    def last_finite_before(self, values: np.ndarray) -> np.ndarray:
        """Index of the last earlier row of the same group with a finite value; -1 if none."""
        index = np.where(np.isfinite(values), np.arange(len(values)), -1)
        latest = np.maximum.accumulate(index)
        before = np.concatenate(([-1], latest[:-1]))
        return np.asarray(np.where(before >= self.group_start, before, -1))

    def symbol_of(self, index: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(self.symbols, dtype=object)[self.group[index]])


def _sanitize(values: np.ndarray, positive: bool) -> np.ndarray:
    """Non-finite values, and non-positive ones when `positive`, become NaN."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    return np.where(bad, np.nan, values)


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).cast(pa.float64())
    return np.asarray(column.fill_null(np.nan).to_numpy(), dtype=np.float64)


def _drop_revised(past: pa.Table, current: pa.Table) -> pa.Table:
    """History rows minus those a batch row replaces (same symbol and time)."""
    earliest = pc.min(current.column("time"))
    overlap = pc.greater_equal(past.column("time"), earliest)
    if not pc.any(overlap).as_py():
        return past
    candidates = past.filter(overlap)
    keys = current.select(["symbol", "time"]).append_column(
        "replaced", pa.array(np.ones(current.num_rows, dtype=bool))
    )
    marked = candidates.join(keys, keys=["symbol", "time"], join_type="left outer")
    kept = marked.filter(pc.is_null(marked.column("replaced"))).drop_columns(["replaced"])
    kept = kept.select(past.column_names).cast(past.schema)
    return pa.concat_tables([past.filter(pc.invert(overlap)), kept])


def build_panel(
    batch: pa.Table,
    keep: np.ndarray,
    history: pa.Table | None,
    price_ok: np.ndarray,
    range_ok: np.ndarray,
) -> Panel:
    """The panel of the `keep` rows of `batch` (BAR_SCHEMA) and `history` of their symbols.

    Batch rows whose prices are unusable (`price_ok` False) enter with NaN prices, rows whose
    OHLC disagree (`range_ok` False) with NaN high and low, so no later rule reads them, while
    their times still count for the calendar and the row order.
    """
    rows = np.flatnonzero(keep)
    current = batch.select(list(BAR_SCHEMA.names)).take(pa.array(rows))
    current = current.append_column("row", pa.array(rows, pa.int64()))
    parts = [current]
    if history is not None and history.num_rows:
        wanted = pc.unique(current.column("symbol"))
        past = history.select(list(BAR_SCHEMA.names))
        past = past.filter(pc.is_in(past.column("symbol"), value_set=wanted))
        past = past.filter(pc.is_valid(past.column("time")))
        if past.num_rows:
            past = _drop_revised(past, current)
            past = past.append_column("row", pa.array(np.full(past.num_rows, -1, np.int64)))
            parts.append(past.cast(current.schema))
    table = pa.concat_tables(parts).sort_by([("symbol", "ascending"), ("time", "ascending")])
    encoded = pc.dictionary_encode(table.column("symbol")).combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    names = encoded.dictionary.to_pylist()
    # Sorted by symbol, so each code's rows are contiguous; renumber groups in order.
    change = np.concatenate(([True], codes[1:] != codes[:-1])) if len(codes) else np.array([])
    group = np.cumsum(change) - 1 if len(codes) else np.empty(0, np.int64)
    starts = np.flatnonzero(change)
    symbols = [names[codes[s]] for s in starts]
    row = np.asarray(table.column("row").to_numpy(), dtype=np.int64)
    prices = {name: _sanitize(_numbers(table, name), positive=True) for name in PRICE_COLUMNS}
    from_batch = row >= 0
    bad_prices = np.zeros(len(row), dtype=bool)
    bad_prices[from_batch] = ~price_ok[row[from_batch]]
    bad_range = np.zeros(len(row), dtype=bool)
    bad_range[from_batch] = ~range_ok[row[from_batch]]
    for name in PRICE_COLUMNS:
        prices[name][bad_prices] = np.nan
    for name in ("high", "low"):
        prices[name][bad_range] = np.nan
    time = table.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    return Panel(
        symbols=symbols,
        group=group.astype(np.int64),
        group_start=starts[group].astype(np.int64),
        time=np.asarray(time, dtype=np.int64),
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        volume=_sanitize(_numbers(table, "volume"), positive=False),
        row=row,
    )
