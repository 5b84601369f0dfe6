"""Ordering bars by symbol then time gives what DuckDB's ORDER BY gives, whatever the input."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from services.marketdata.domain.bar_order import order_by_symbol_time

SYMBOLS = ["AAPL", "AA", "A", "KO", "MSFT", "Z", "BRK.B", "aapl", "ÄÖ"]
DAY_US = 86_400_000_000


def bars(symbols: list[str], days: list[int]) -> pa.Table:
    """Rows with a `row` column numbering them in input order."""
    return pa.table(
        {
            "symbol": pa.array(symbols, pa.string()),
            "time": pa.array(np.asarray(days, dtype=np.int64) * DAY_US, pa.timestamp("us")),
            "row": pa.array(np.arange(len(symbols))),
        }
    )


def by_duckdb(table: pa.Table) -> pa.Table:
    """The reference: ORDER BY symbol, time, with ties in input order."""
    connection = duckdb.connect()
    connection.register("unordered", table)
    return connection.sql("SELECT * FROM unordered ORDER BY symbol, time, row").to_arrow_table()


@pytest.mark.parametrize("seed", range(40))
def test_any_input_comes_out_as_order_by_symbol_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    table = bars(
        list(rng.choice(SYMBOLS, size=n)), list(rng.integers(0, 60, size=n))
    )  # ties included: equal keys keep their input order
    assert order_by_symbol_time(table).equals(by_duckdb(table))


def test_rows_stored_a_symbol_at_a_time_keep_their_order_within_each_symbol() -> None:
    # A history per symbol, then two sessions appended for every symbol (how bars are written).
    symbols = ["MSFT"] * 3 + ["AAPL"] * 3 + ["MSFT", "AAPL"] + ["MSFT", "AAPL"]
    days = [0, 1, 2, 0, 1, 2, 3, 3, 4, 4]
    table = bars(symbols, days)
    ordered = order_by_symbol_time(table)
    assert ordered.column("symbol").to_pylist() == ["AAPL"] * 5 + ["MSFT"] * 5
    assert ordered.column("row").to_pylist() == [3, 4, 5, 7, 9, 0, 1, 2, 6, 8]


def test_a_revised_bar_stored_last_is_put_back_in_its_place() -> None:
    table = bars(["KO", "KO", "KO", "AAPL", "KO"], [0, 2, 3, 0, 1])
    ordered = order_by_symbol_time(table)
    assert ordered.column("row").to_pylist() == [3, 0, 4, 1, 2]


def test_chunked_input_and_tiny_tables() -> None:
    table = bars(["B", "A", "B", "A"], [1, 1, 0, 0])
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 2), table.slice(3)])
    assert order_by_symbol_time(chunked).column("row").to_pylist() == [3, 1, 2, 0]
    assert order_by_symbol_time(table.slice(0, 0)).num_rows == 0
    assert order_by_symbol_time(table.slice(0, 1)).equals(table.slice(0, 1))
