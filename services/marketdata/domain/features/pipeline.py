"""Computing a feature view from bars: TA-Lib per symbol, DuckDB windows, DuckDB ranks.

The bars, sorted by symbol then time, fix the row order of every stage, so stages line up row
for row and are put side by side without a join:

1. `talib_columns`: each TA-Lib kind, symbol by symbol, on zero-copy slices of the columns.
2. `window_query`: DuckDB adds the per-bar helpers and evaluates the SQL kinds as window
   expressions over trailing frames of each symbol's series (only the bars go through the window
   operator: carrying the TA-Lib columns through its sort would cost more than the windows).
3. `rank_query`: DuckDB ranks features across symbols at each time, on just the ranked columns.

NaN and ±inf become NULL. Every feature at (symbol, t) reads only that symbol's bars up to t,
and a rank reads only the values of the symbols at t: nothing after t.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from services.marketdata.domain.features.catalog import Engine, engine_of
from services.marketdata.domain.features.definition import FeatureSpec, FeatureViewDefinition
from services.marketdata.domain.features.schemas import conform, feature_schema
from services.marketdata.domain.features.sql_kinds import BASE_COLUMNS, SQL_KINDS
from services.marketdata.domain.features.talib_kinds import TALIB_KINDS, Series

INPUT_COLUMNS = ("symbol", "time", "open", "high", "low", "close", "volume")
_PRICES = INPUT_COLUMNS[2:]
_BARS_VIEW = "feature_bars"
_VALUES_VIEW = "feature_values"


def sorted_bars(bars: pa.Table) -> pa.Table:
    """The input columns with naive UTC times, sorted by symbol then time (a no-op if already)."""
    table = bars.select(list(INPUT_COLUMNS))
    time = table.column("time")
    if time.type.tz is not None:
        table = table.set_column(1, "time", time.cast(pa.timestamp("us")))
    if table.num_rows > 1 and not _is_sorted(table):
        table = table.sort_by([("symbol", "ascending"), ("time", "ascending")])
    return table.combine_chunks()


def _is_sorted(table: pa.Table) -> bool:
    codes = _symbol_codes(table)
    times = table.column("time").cast(pa.int64()).to_numpy()
    same = codes[1:] == codes[:-1]
    return bool(np.all(codes[1:] >= codes[:-1]) and np.all(times[1:][same] > times[:-1][same]))


def _symbol_codes(table: pa.Table) -> np.ndarray:
    """Per row, the index of its symbol in order of first appearance."""
    encoded = table.column("symbol").combine_chunks().dictionary_encode()
    codes: np.ndarray = encoded.indices.to_numpy()
    return codes


def symbol_runs(table: pa.Table) -> list[tuple[int, int]]:
    """(start, stop) row ranges of each symbol in a table sorted by symbol."""
    codes = _symbol_codes(table)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.array([])
    stops = np.r_[starts[1:], len(codes)]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _specs(definition: FeatureViewDefinition, engine: Engine) -> list[FeatureSpec]:
    return [s for s in definition.features if engine_of(s) is engine]


def talib_columns(bars: pa.Table, definition: FeatureViewDefinition) -> dict[str, pa.Array]:
    """Each TA-Lib feature of `bars` (from `sorted_bars`), NULL in warm-up and where not finite."""
    specs = _specs(definition, Engine.TALIB)
    if not specs:
        return {}
    columns = {
        name: np.ascontiguousarray(
            bars.column(name).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        for name in _PRICES
    }
    outputs = {spec.name: np.full(bars.num_rows, np.nan) for spec in specs}
    for start, stop in symbol_runs(bars):
        o, h, low, c, v = (columns[name][start:stop] for name in _PRICES)
        series = Series(o, h, low, c, v)
        for spec in specs:
            outputs[spec.name][start:stop] = TALIB_KINDS[spec.kind].compute(series, spec.params)
    return {
        name: pa.array(values, type=pa.float64(), mask=~np.isfinite(values))
        for name, values in outputs.items()
    }


def window_query(definition: FeatureViewDefinition, source: str) -> str:
    """DuckDB query of the SQL kinds over relation `source` (`sorted_bars`), in its row order."""
    specs = _specs(definition, Engine.SQL)
    helpers = [f"{expression} AS {name}" for name, expression in BASE_COLUMNS.items()]
    values = [f"{SQL_KINDS[s.kind].sql(s.params)} AS {s.name}" for s in specs]
    finite = [f"CASE WHEN isfinite({s.name}) THEN {s.name} END AS {s.name}" for s in specs]
    return f"""
        WITH base AS (SELECT {", ".join([*INPUT_COLUMNS, *helpers])} FROM {source}),
        computed AS (SELECT symbol, time, {", ".join(values)} FROM base)
        SELECT symbol, time, {", ".join(finite)} FROM computed ORDER BY symbol, time
    """


def rank_query(definition: FeatureViewDefinition, source: str) -> str:
    """DuckDB query of the cross-sectional ranks over relation `source` (symbol, time and the
    ranked features), ordered by symbol then time."""
    ranks = [
        f"{_rank(str(s.params['source']))} AS {s.name}" for s in _specs(definition, Engine.RANK)
    ]
    return f"SELECT symbol, time, {', '.join(ranks)} FROM {source} ORDER BY symbol, time"


def _rank(source: str) -> str:
    """Percentile rank of `source` among the symbols with a value at the same time: 0 for the
    lowest, 1 for the highest (ties share the lower rank), 0.5 when only one symbol has one.
    NULLs sort last, so they leave the ranks of the values alone."""
    count = f"count({source}) OVER (PARTITION BY time)"
    rank = f"rank() OVER (PARTITION BY time ORDER BY {source} ASC NULLS LAST)"
    return (
        f"CASE WHEN {source} IS NULL THEN NULL WHEN {count} > 1 "
        f"THEN CAST({rank} - 1 AS DOUBLE) / ({count} - 1) ELSE 0.5 END"
    )


def _run(cursor: duckdb.DuckDBPyConnection, sql: str, view: str, table: pa.Table) -> pa.Table:
    cursor.register(view, table)
    try:
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.unregister(view)


def _aligned(stage: pa.Table, bars: pa.Table, what: str) -> pa.Table:
    """`stage` when its rows are the bars' rows in the bars' order (they must be)."""
    if not (
        stage.column("symbol").equals(bars.column("symbol"))
        and stage.column("time").equals(bars.column("time"))
    ):
        raise AssertionError(f"the {what} stage is not in the bars' row order")
    return stage


def compute_features(
    cursor: duckdb.DuckDBPyConnection, bars: pa.Table, definition: FeatureViewDefinition
) -> pa.Table:
    """The features of `definition` for every bar of `bars` (bar-table columns), ordered by
    symbol then time: symbol, time (UTC), one float64 column per feature, in view order."""
    ordered = sorted_bars(bars)
    columns: dict[str, pa.Array | pa.ChunkedArray] = dict(talib_columns(ordered, definition))
    if _specs(definition, Engine.SQL):
        windows = _aligned(
            _run(cursor, window_query(definition, _BARS_VIEW), _BARS_VIEW, ordered),
            ordered,
            "window",
        )
        columns |= {s.name: windows.column(s.name) for s in _specs(definition, Engine.SQL)}
    ranks = _specs(definition, Engine.RANK)
    if ranks:
        sources = sorted({str(s.params["source"]) for s in ranks})
        ranked_input = pa.table(
            {"symbol": ordered.column("symbol"), "time": ordered.column("time")}
            | {name: columns[name] for name in sources}
        )
        ranked = _aligned(
            _run(cursor, rank_query(definition, _VALUES_VIEW), _VALUES_VIEW, ranked_input),
            ordered,
            "rank",
        )
        columns |= {s.name: ranked.column(s.name) for s in ranks}
    table = pa.table(
        {"symbol": ordered.column("symbol"), "time": ordered.column("time")}
        | {name: columns[name] for name in definition.feature_names}
    )
    return conform(table, feature_schema(definition.feature_names))
