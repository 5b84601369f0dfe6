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

Live reads (`since`: only the rows from a time on are wanted, the bars before are warm-up) do
less work for the same values: TA-Lib still reads every bar (its smoothings need the long
warm-up), but the window stage reads only each symbol's `window_lookback` bars before its first
wanted row (every bar its frames reach, and `rn` stays past every warm-up), and the rank stage
only the wanted rows (a rank at t reads only values at t). Both queries run as statements
prepared once per cursor (`PreparedQueries`), which spares parsing, binding and planning them
at each call.
"""

from __future__ import annotations

import functools
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.features.catalog import Engine, engine_of
from services.marketdata.domain.features.definition import FeatureSpec, FeatureViewDefinition
from services.marketdata.domain.features.prepared import PreparedQueries
from services.marketdata.domain.features.schemas import conform, feature_schema
from services.marketdata.domain.features.sql_kinds import BASE_COLUMNS, SQL_KINDS
from services.marketdata.domain.features.talib_kinds import TALIB_KINDS, Series
from services.runtime.time_convert import ensure_utc

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


def window_lookback(definition: FeatureViewDefinition) -> int:
    """How many bars before a row the window stage reads for that row's values."""
    return max(
        (SQL_KINDS[s.kind].lookback(s.params) for s in _specs(definition, Engine.SQL)), default=0
    )


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


_PREPARED = PreparedQueries()


def _window_input(
    ordered: pa.Table, wanted: np.ndarray, lookback: int
) -> tuple[pa.Table, np.ndarray]:
    """The rows of `ordered` the window stage needs for the `wanted` ones (a suffix of each
    symbol's rows): each symbol's wanted rows and the `lookback` rows before them, none of a
    symbol without wanted rows. Also which of those rows are wanted."""
    parts: list[np.ndarray] = []
    for start, stop in symbol_runs(ordered):
        first = start + int(np.argmax(wanted[start:stop])) if wanted[start:stop].any() else stop
        if first < stop:
            parts.append(np.arange(max(start, first - lookback), stop))
    rows = np.concatenate(parts) if parts else np.array([], dtype=np.int64)
    return ordered.take(rows), wanted[rows]


def _wanted_rows(ordered: pa.Table, since: datetime) -> np.ndarray:
    """Per row of `ordered`, whether its time is at or after `since`."""
    at = pa.scalar(ensure_utc(since).replace(tzinfo=None), pa.timestamp("us"))
    mask: np.ndarray = pc.greater_equal(ordered.column("time"), at).to_numpy(zero_copy_only=False)
    return mask


def compute_features(
    cursor: duckdb.DuckDBPyConnection,
    bars: pa.Table,
    definition: FeatureViewDefinition,
    since: datetime | None = None,
) -> pa.Table:
    """The features of `definition` for every bar of `bars` (bar-table columns), ordered by
    symbol then time: symbol, time (UTC), one float64 column per feature, in view order.

    With `since`, only the rows at or after it: the bars before are warm-up, read only as far
    as each stage needs them. The values are those of the rows computed without `since`."""
    ordered = sorted_bars(bars)
    talib = talib_columns(ordered, definition)
    sql_specs = _specs(definition, Engine.SQL)
    if since is None:
        out = ordered
        columns: dict[str, pa.Array | pa.ChunkedArray] = dict(talib)
        if sql_specs:
            windows = _run(cursor, window_query(definition, _BARS_VIEW), _BARS_VIEW, ordered)
    else:
        wanted = _wanted_rows(ordered, since)
        keep = pa.array(wanted, pa.bool_())
        out = ordered.filter(keep)
        columns = {name: values.filter(keep) for name, values in talib.items()}
        if sql_specs:
            source, kept = _window_input(ordered, wanted, window_lookback(definition))
            windows = _PREPARED.run(
                cursor, functools.partial(window_query, definition), source, "feature_windows"
            )
            windows = windows.filter(pa.array(kept, pa.bool_()))
    if sql_specs:
        windows = _aligned(windows, out, "window")
        columns |= {s.name: windows.column(s.name) for s in sql_specs}
    ranks = _specs(definition, Engine.RANK)
    if ranks:
        sources = sorted({str(s.params["source"]) for s in ranks})
        ranked_input = pa.table(
            {"symbol": out.column("symbol"), "time": out.column("time")}
            | {name: columns[name] for name in sources}
        )
        if since is None:
            ranked = _run(cursor, rank_query(definition, _VALUES_VIEW), _VALUES_VIEW, ranked_input)
        else:
            ranked = _PREPARED.run(
                cursor, functools.partial(rank_query, definition), ranked_input, "feature_ranks"
            )
        ranked = _aligned(ranked, out, "rank")
        columns |= {s.name: ranked.column(s.name) for s in ranks}
    table = pa.table(
        {"symbol": out.column("symbol"), "time": out.column("time")}
        | {name: columns[name] for name in definition.feature_names}
    )
    return conform(table, feature_schema(definition.feature_names))
