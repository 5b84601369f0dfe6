"""The features TA-Lib does not have: candle shapes, the opening gap, cross-sectional ranks,
and the edge cases of the windowed ratios (flat windows, too few bars)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import BAR_SCHEMA
from services.marketdata.domain.features import (
    DEFAULT_VIEW,
    FeatureSpec,
    compute_features,
    define_view,
)
from tests.unit.marketdata.features.helpers import dow30_bars

START = datetime(2020, 1, 1, tzinfo=UTC)


def _bars(symbol: str, rows: list[tuple[float, float, float, float, float]]) -> pa.Table:
    """Daily bars from (open, high, low, close, volume) rows."""
    return pa.Table.from_pydict(
        {
            "symbol": [symbol] * len(rows),
            "time": [START + timedelta(days=i) for i in range(len(rows))],
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [r[4] for r in rows],
            "adj_close": [None] * len(rows),
        },
        schema=BAR_SCHEMA,
    )


def _compute(bars: pa.Table, specs: list[FeatureSpec]) -> pa.Table:
    cursor = duckdb.connect()
    try:
        return compute_features(cursor, bars, define_view("t", specs))
    finally:
        cursor.close()


def test_candle_shapes_and_gap() -> None:
    bars = _bars("A", [(10, 12, 9, 11, 100), (11.5, 13, 11, 11.5, 100), (12, 12, 12, 12, 100)])
    got = _compute(
        bars,
        [
            FeatureSpec("body", "candle_body"),
            FeatureSpec("upper", "candle_upper_shadow"),
            FeatureSpec("lower", "candle_lower_shadow"),
            FeatureSpec("gap", "gap"),
        ],
    ).to_pydict()
    assert got["body"] == pytest.approx([1 / 3, 0.0, 0.0])
    assert got["upper"] == pytest.approx([1 / 3, 1.5 / 2, 0.0])  # no range: 0
    assert got["lower"] == pytest.approx([1 / 3, 0.5 / 2, 0.0])
    assert got["gap"][0] is None
    assert got["gap"][1:] == pytest.approx([math.log(11.5 / 11), math.log(12 / 11.5)])


def test_flat_windows_and_short_series() -> None:
    flat = _bars("A", [(10, 10, 10, 10, 0)] * 25)
    got = _compute(
        flat,
        [
            FeatureSpec("don", "donchian_position", {"period": 20}),
            FeatureSpec("wr", "willr", {"period": 14}),
            FeatureSpec("z", "volume_zscore", {"period": 20}),
            FeatureSpec("pctb", "bollinger_pctb", {"period": 20, "nbdev": 2.0}),
            FeatureSpec("flow", "obv_flow", {"period": 20}),
            FeatureSpec("mfi", "mfi", {"period": 14}),
            FeatureSpec("vol", "realized_vol", {"period": 5}),
            FeatureSpec("long", "sma_ratio", {"period": 200}),
        ],
    ).to_pydict()
    assert got["don"][:19] == [None] * 19 and set(got["don"][19:]) == {0.5}
    assert got["wr"][:13] == [None] * 13 and set(got["wr"][13:]) == {0.0}
    assert got["mfi"][:14] == [None] * 14 and set(got["mfi"][14:]) == {0.0}
    assert got["vol"][:5] == [None] * 5 and set(got["vol"][5:]) == {0.0}
    # 0/0 (no volume, no spread) is no value, never NaN or inf; a window longer than the data
    # has no value at all.
    for name in ("z", "pctb", "flow", "long"):
        assert set(got[name]) == {None}, name


def test_cross_sectional_ranks_match_pandas_on_real_data() -> None:
    bars = dow30_bars()
    specs = [
        FeatureSpec("ret", "log_return", {"period": 1}),
        FeatureSpec("vol", "realized_vol", {"period": 20}),
        FeatureSpec("rank_ret", "cs_rank", {"source": "ret"}),
        FeatureSpec("rank_vol", "cs_rank", {"source": "vol"}),
    ]
    frame = _compute(bars, specs).to_pandas()
    for source, rank in (("ret", "rank_ret"), ("vol", "rank_vol")):
        by_time = frame.groupby("time")[source]
        lowest = by_time.rank(method="min")
        expected = (lowest - 1) / (by_time.transform("count") - 1)
        np.testing.assert_allclose(frame[rank], expected, rtol=0, atol=1e-15)
        assert frame[rank].isna().equals(frame[source].isna())
        assert frame[rank].min() == 0.0 and frame[rank].max() == 1.0


def test_a_lone_symbol_ranks_in_the_middle() -> None:
    bars = _bars("A", [(10, 11, 9, 10, 100), (10, 11, 9, 10.5, 100)])
    got = _compute(
        bars,
        [
            FeatureSpec("ret", "log_return", {"period": 1}),
            FeatureSpec("r", "cs_rank", {"source": "ret"}),
        ],
    )
    assert got.column("r").to_pylist() == [None, 0.5]


def test_default_view_computes_on_unsorted_input() -> None:
    bars = dow30_bars().slice(0, 5000)
    shuffled = bars.take(np.random.default_rng(3).permutation(bars.num_rows))
    cursor = duckdb.connect()
    try:
        a = compute_features(cursor, bars, DEFAULT_VIEW)
        b = compute_features(cursor, shuffled, DEFAULT_VIEW)
    finally:
        cursor.close()
    assert a.equals(b)
