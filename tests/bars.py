"""Small bar tables for tests (valid OHLC unless a test breaks them on purpose)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa


def make_bars(
    symbols: tuple[str, ...] = ("AAA",),
    days: int = 5,
    start: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    price: float = 100.0,
) -> pa.Table:
    rows: dict[str, list[object]] = {
        k: [] for k in ("symbol", "time", "open", "high", "low", "close", "volume")
    }
    for i, symbol in enumerate(symbols):
        for d in range(days):
            close = price + i + d
            rows["symbol"].append(symbol)
            rows["time"].append(start + timedelta(days=d))
            rows["open"].append(close - 0.5)
            rows["high"].append(close + 1.0)
            rows["low"].append(close - 1.0)
            rows["close"].append(close)
            rows["volume"].append(1000.0 + d)
    return pa.table(rows)


def with_value(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    """`table` with one cell replaced."""
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    kind = table.schema.field(column).type
    try:
        array = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(values)
    return table.set_column(index, column, array)


def closes(table: pa.Table) -> list[float]:
    return [float(x) for x in np.asarray(table.column("close"))]
