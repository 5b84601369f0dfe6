"""Bar tables for the sentinel's tests: a seeded synthetic market and precise edits of it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import TIME_TYPE
from services.marketdata.domain.synthetic import generate_market


def market(symbols: int = 6, days: int = 260, seed: int = 11) -> pa.Table:
    """Daily bars (weekdays from 2019-01-02) of SYN001, SYN002, ..."""
    return generate_market(n_symbols=symbols, n_days=days, seed=seed).bars


def times(bars: pa.Table) -> np.ndarray:
    """The distinct bar times (epoch microseconds), ascending."""
    return np.unique(np.asarray(bars.column("time").cast(pa.int64()).to_numpy()))


def at(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1e6, tz=UTC)


def split_last(bars: pa.Table, sessions: int = 1) -> tuple[pa.Table, pa.Table]:
    """(history, batch): the last `sessions` distinct times form the batch."""
    cut = pa.scalar(int(times(bars)[-sessions]), pa.int64()).cast(TIME_TYPE)
    return (
        bars.filter(pc.less(bars.column("time"), cut)),
        bars.filter(pc.greater_equal(bars.column("time"), cut)),
    )


def edit(bars: pa.Table, symbol: str, micros: int, **values: float) -> pa.Table:
    """`bars` with the named columns of one (symbol, time) row replaced."""
    mask = np.asarray(
        pc.and_(
            pc.equal(bars.column("symbol"), symbol),
            pc.equal(bars.column("time").cast(pa.int64()), micros),
        )
    )
    assert mask.sum() == 1, f"no single row {symbol} {at(micros)}"
    for name, value in values.items():
        column = np.array(bars.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
        column[mask] = value
        index = bars.schema.get_field_index(name)
        bars = bars.set_column(index, bars.schema.field(name), pa.array(column))
    return bars


def row(bars: pa.Table, symbol: str, micros: int) -> dict[str, float]:
    mask = pc.and_(
        pc.equal(bars.column("symbol"), symbol),
        pc.equal(bars.column("time").cast(pa.int64()), micros),
    )
    found: list[dict[str, float]] = bars.filter(mask).to_pylist()
    assert len(found) == 1
    return found[0]


def drop(bars: pa.Table, symbol: str, micros: int) -> pa.Table:
    mask = pc.and_(
        pc.equal(bars.column("symbol"), symbol),
        pc.equal(bars.column("time").cast(pa.int64()), micros),
    )
    return bars.filter(pc.invert(mask))
