"""Live reads: `compute_features(..., since=t)` returns the rows from t on with less work (the SQL
windows read only each symbol's `window_lookback` bars before t, the ranks only the rows kept,
both through statements prepared once per cursor), and those rows are the full computation's.

Also what that rests on: the value windows, which run without PARTITION BY, equal partitioned
ones because every kind's warm-up covers all it reads; and a prepared statement reads the rows of
each call through a plan bound once.

Tolerance: TA-Lib columns must be identical (same bars, same code); SQL windows and ranks within
1e-12 (absolute plus relative), since DuckDB sums a trailing frame along a segment tree shaped by
the input's length, which moves a sum by an ulp when the input starts elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import TIME_TYPE, Frequency
from services.marketdata.domain.feature_service import Features
from services.marketdata.domain.features import (
    DEFAULT_VIEW,
    FeatureSpec,
    compute_features,
    define_view,
    kinds,
    pipeline,
    sql_kinds,
)
from services.marketdata.domain.features.catalog import Engine, engine_of
from services.marketdata.domain.features.definition import FeatureViewDefinition
from services.marketdata.domain.features.prepared import PreparedQueries
from tests.unit.marketdata.features.helpers import dow30_bars, fresh_stores

TOL = 1e-12


def _days(table: pa.Table) -> list[datetime]:
    return sorted(set(table.column("time").to_pylist()))


@functools.cache
def _ragged() -> pa.Table:
    """The Dow bars with uneven histories: most symbols lose a different number of first bars,
    one keeps only 30 (fewer than the window stage's look-back), one ends 40 sessions early."""
    bars = dow30_bars()
    symbols = sorted(set(bars.column("symbol").to_pylist()))
    days = _days(bars)
    parts = []
    for i, symbol in enumerate(symbols):
        rows = bars.filter(pc.field("symbol") == symbol)
        if i == 0:
            rows = rows.slice(rows.num_rows - 30)
        elif i == 1:
            rows = rows.filter(pc.field("time") < pa.scalar(days[-40], TIME_TYPE))
        else:
            rows = rows.slice(37 * i)
        parts.append(rows)
    return pa.concat_tables(parts)


@pytest.fixture
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect()
    cursor = db.cursor()
    yield cursor
    db.close()


def _assert_same(got: pa.Table, want: pa.Table, definition: FeatureViewDefinition) -> None:
    assert got.column_names == want.column_names
    assert got.column("symbol").equals(want.column("symbol"))
    assert got.column("time").equals(want.column("time"))
    for spec in definition.features:
        a, b = got.column(spec.name), want.column(spec.name)
        if engine_of(spec) is Engine.TALIB:
            assert a.equals(b), spec.name
            continue
        assert pc.is_null(a).equals(pc.is_null(b)), f"{spec.name}: NULL in other rows"
        x = np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float64)
        y = np.asarray(b.to_numpy(zero_copy_only=False), dtype=np.float64)
        ok = np.isnan(x) | (np.abs(x - y) <= TOL + TOL * np.abs(y))
        assert ok.all(), f"{spec.name}: max difference {np.nanmax(np.abs(x - y))}"


@pytest.mark.parametrize("back", [1, 10, 45, 400], ids=lambda n: f"last_{n}_sessions")
def test_rows_since_t_equal_those_of_the_full_computation(
    back: int, cursor: duckdb.DuckDBPyConnection
) -> None:
    bars = _ragged()
    since = _days(bars)[-back]
    full = compute_features(cursor, bars, DEFAULT_VIEW)
    want = full.filter(pc.field("time") >= pa.scalar(since, TIME_TYPE))
    for _ in range(2):  # the second call runs the statements prepared by the first
        got = compute_features(cursor, bars, DEFAULT_VIEW, since=since)
        _assert_same(got, want, DEFAULT_VIEW)
    assert got.num_rows > 0


def test_live_reads_on_one_cursor_each_see_their_own_bars(
    cursor: duckdb.DuckDBPyConnection,
) -> None:
    """One cursor, one prepared statement per stage, bars of another length and other symbols
    at each call: each result is that call's full computation."""
    bars = dow30_bars()
    days = _days(bars)
    symbols = sorted(set(bars.column("symbol").to_pylist()))
    cases = [
        (bars.filter(pc.field("time") < pa.scalar(days[-5], TIME_TYPE)), days[-6]),
        (bars.filter(pc.is_in(pc.field("symbol"), pa.array(symbols[:3]))), days[-1]),
        (_ragged(), days[-20]),
        (bars, days[-1]),
    ]
    for table, since in cases:
        want = compute_features(cursor, table, DEFAULT_VIEW)
        want = want.filter(pc.field("time") >= pa.scalar(since, TIME_TYPE))
        _assert_same(compute_features(cursor, table, DEFAULT_VIEW, since=since), want, DEFAULT_VIEW)


def _sql_specs() -> list[FeatureSpec]:
    specs = []
    for name in sql_kinds.SQL_KINDS:
        types = dict(kinds()[name].params)
        for period in (1, 3, 20) if "period" in types else (None,):
            params = {k: (period if t is int else 2.0) for k, t in types.items()}
            specs.append(FeatureSpec(f"{name}_{period or 0}", name, params))
    return specs


SQL_SPECS = _sql_specs()


@pytest.mark.parametrize("spec", SQL_SPECS, ids=lambda s: s.name)
def test_unpartitioned_windows_equal_partitioned_ones(
    spec: FeatureSpec, cursor: duckdb.DuckDBPyConnection
) -> None:
    """Frames and lags run over all symbols in (symbol, time) order; the warm-up guard must
    leave only values whose every bar is the symbol's own. The same query with each window
    partitioned by symbol is the reference."""
    definition = define_view("one", [spec])
    query = pipeline.window_query(definition, "bars")
    unpartitioned = f"OVER ({sql_kinds._ROWS}"
    assert unpartitioned in query
    partitioned = query.replace(unpartitioned, f"OVER ({sql_kinds._SERIES}")
    bars = pipeline.sorted_bars(_ragged())
    got = pipeline._run(cursor, query, "bars", bars)
    want = pipeline._run(cursor, partitioned, "bars", bars)
    assert pc.is_null(got.column(spec.name)).equals(pc.is_null(want.column(spec.name)))
    x = np.asarray(got.column(spec.name).to_numpy(zero_copy_only=False), dtype=np.float64)
    y = np.asarray(want.column(spec.name).to_numpy(zero_copy_only=False), dtype=np.float64)
    assert (np.isnan(x) | (np.abs(x - y) <= TOL + TOL * np.abs(y))).all()


@pytest.mark.parametrize("spec", SQL_SPECS, ids=lambda s: s.name)
def test_window_lookback_is_what_each_kind_reads(
    spec: FeatureSpec, cursor: duckdb.DuckDBPyConnection
) -> None:
    """With `lookback` bars before the wanted row the value is the one from all bars; with one
    bar fewer the warm-up guard leaves it NULL (so the declared warm-up is exact)."""
    definition = define_view("one", [spec])
    lookback = pipeline.window_lookback(definition)
    assert lookback == sql_kinds.SQL_KINDS[spec.kind].warmup(spec.params) - 1
    bars = pipeline.sorted_bars(dow30_bars())
    wanted = pipeline._wanted_rows(bars, _days(bars)[-1])
    query = pipeline.window_query(definition, "bars")
    full = pipeline._run(cursor, query, "bars", bars).filter(pa.array(wanted))
    source, kept = pipeline._window_input(bars, wanted, lookback)
    trimmed = pipeline._run(cursor, query, "bars", source).filter(pa.array(kept))
    assert trimmed.column(spec.name).null_count < trimmed.num_rows or spec.params["period"] == 1
    values = [
        None if v is None else pytest.approx(v, rel=TOL, abs=TOL)
        for v in full.column(spec.name).to_pylist()
    ]
    assert trimmed.column(spec.name).to_pylist() == values
    if lookback > 0:
        source, kept = pipeline._window_input(bars, wanted, lookback - 1)
        short = pipeline._run(cursor, query, "bars", source).filter(pa.array(kept))
        assert short.column(spec.name).null_count == short.num_rows


def _binding_seconds(cursor: duckdb.DuckDBPyConnection, sql: str, profile: Path) -> float:
    cursor.execute("PRAGMA enable_profiling='json'")
    cursor.execute("SET profiling_mode='detailed'")
    cursor.execute(f"PRAGMA profiling_output='{profile}'")
    try:
        cursor.execute(sql).fetchall()
    finally:
        cursor.execute("PRAGMA disable_profiling")
    planner = json.loads(profile.read_text())["planner"]
    return float(planner["binding_time"])


def test_prepared_queries_read_each_calls_rows_through_one_plan(
    cursor: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    prepared = PreparedQueries()
    query = functools.partial(pipeline.window_query, DEFAULT_VIEW)
    bars = pipeline.sorted_bars(dow30_bars())
    days = _days(bars)
    naive = pa.timestamp("us")
    tables = [
        bars.filter(pc.field("time") >= pa.scalar(days[-70], TIME_TYPE).cast(naive)),
        bars.filter(pc.field("time") >= pa.scalar(days[-300], TIME_TYPE).cast(naive)).slice(0, 500),
        pipeline.sorted_bars(_ragged()),
        bars.slice(0, 0),
    ]
    for table in tables:
        got = prepared.run(cursor, query, table, "windows")
        want = pipeline._run(cursor, query("plain_bars"), "plain_bars", table)
        assert got.equals(want)
    [(name, rows)] = prepared._cursors[cursor].items()
    assert rows.table.num_rows == 0  # the rows are let go after each call
    # EXECUTE does not bind the statement again (a few µs, against ms for the query itself).
    executed = _binding_seconds(cursor, f"EXECUTE {name}", tmp_path / "execute.json")
    cursor.register("plain_bars", tables[0])
    plain = _binding_seconds(cursor, query("plain_bars"), tmp_path / "plain.json")
    assert executed < plain / 20
    prepared.close()
    with pytest.raises(duckdb.Error):
        cursor.execute(f"EXECUTE {name}")


def test_prepared_queries_keep_a_bounded_number_per_cursor(
    cursor: duckdb.DuckDBPyConnection,
) -> None:
    prepared = PreparedQueries(per_cursor=1)
    table = pa.table({"x": [1.0, 2.0, 3.0]})
    first = prepared.run(cursor, lambda source: f"SELECT sum(x) AS s FROM {source}", table, "q")
    [old] = prepared._cursors[cursor]
    second = prepared.run(cursor, lambda source: f"SELECT max(x) AS s FROM {source}", table, "q")
    assert first.column("s").to_pylist() == [6.0] and second.column("s").to_pylist() == [3.0]
    assert old not in prepared._cursors[cursor]
    with pytest.raises(duckdb.Error):
        cursor.execute(f"EXECUTE {old}")
    with pytest.raises(duckdb.Error):
        cursor.execute(f"SELECT * FROM {old}")
    prepared.close()


def test_computed_reads_equal_the_materialized_version() -> None:
    """A computed read (the live path of marketdata) from a stored time on equals the stored
    version's rows there, for every symbol, and covers a session ingested since."""
    bars = dow30_bars()
    days = _days(bars)
    last = pa.scalar(days[-1], TIME_TYPE)
    stores = fresh_stores(bars.filter(pc.field("time") < last))
    try:
        version = stores.features.materialize(DEFAULT_VIEW, Frequency.DAILY)
        start = days[-12]
        stored = stores.features.scan("default", version.version, start=start).to_table()
        stores.ingest(bars.filter(pc.field("time") == last))
        features = Features(stores.features, stores.bars)
        _, live = asyncio.run(features.read("default", version.version, start=start, computed=True))
        new = live.filter(pc.field("time") == last)
        assert new.num_rows == len(version.symbols)
        live = live.filter(pc.field("time") < last)
        assert live.column("symbol").equals(stored.column("symbol"))
        for name in version.feature_names:
            a, b = stored.column(name).to_pylist(), live.column(name).to_pylist()
            # TA-Lib's smoothings forget the bars before the warm-up to within ~1e-8.
            assert all(
                (x is None and y is None) or abs(x - y) <= 1e-6 * max(1.0, abs(x))
                for x, y in zip(a, b, strict=True)
            ), name
        _, one = asyncio.run(
            features.read("default", version.version, ["ko"], start=start, computed=True)
        )
        assert set(one.column("symbol").to_pylist()) == {"KO"}
        assert one.num_rows == live.num_rows // len(version.symbols) + 1
    finally:
        stores.close()


def test_computed_reads_from_any_thread_reuse_the_statements_materializing_prepared() -> None:
    """Materializing prepares the live statements on a compute cursor; consecutive computed
    reads take the compute cursor given back last, so they find them there, whichever worker
    thread runs them; reads at the same time get cursors of their own."""
    bars = dow30_bars()
    stores = fresh_stores(bars)
    try:
        version = stores.features.materialize(DEFAULT_VIEW, Frequency.DAILY)
        [cursor] = stores.features._compute_cursors
        prepared = dict(pipeline._PREPARED._cursors[cursor])
        assert len(prepared) == 2  # windows and ranks
        features = Features(stores.features, stores.bars)
        start = _days(bars)[-3]

        def read() -> None:
            asyncio.run(features.read("default", version.version, start=start, computed=True))

        for _ in range(3):
            with ThreadPoolExecutor(1) as pool:  # a new thread each time
                pool.submit(read).result()
        assert stores.features._compute_cursors == [cursor]
        assert pipeline._PREPARED._cursors[cursor] == prepared  # the same statements, no new
        with stores.features.compute_cursor() as one, stores.features.compute_cursor() as two:
            assert one is cursor and two is not cursor
        assert stores.features._compute_cursors == [two, one]
    finally:
        stores.close()
