"""No look-ahead: a feature at t is unchanged when bars after t change.

Three ways for the future to change: bars after t are revised (re-ingested with other values),
new sessions are appended, or the future is cut off altogether. In each case the default view is
recomputed and every feature of every row at or before t, cross-sectional ranks included, must be
what it was: NULL in the same places, values equal to within 1e-12 (absolute plus relative).
That tolerance only absorbs rounding in the last bit: DuckDB sums a trailing window along a
segment tree shaped by the partition's length, so appending sessions can move a sum by an ulp
(seen: 3e-14 at most, on Bollinger %B).
Any leak of later bars would move values by the perturbation's size (percents). The same
comparison on labels (which do look forward) must see a change: the check can fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import BAR_SCHEMA, TIME_TYPE, validate_bars
from services.marketdata.domain.features import DEFAULT_VIEW, compute_features
from tests.unit.marketdata.features.helpers import dow30_bars, fresh_stores

RTOL, ATOL = 1e-12, 1e-12
CUTOFF = datetime.fromisoformat("2013-06-28T00:00:00+00:00")


def _until(table: pa.Table, last: datetime) -> pa.Table:
    return table.filter(pc.field("time") <= pa.scalar(last, TIME_TYPE))


def _after(table: pa.Table, last: datetime) -> pa.Table:
    return table.filter(pc.field("time") > pa.scalar(last, TIME_TYPE))


def _perturbed(bars: pa.Table, seed: int) -> pa.Table:
    """The same bars with other prices and volumes: every row moves by its own random scale,
    its open by a further one (so candle shapes change too); high and low still bound the bar."""
    rng = np.random.default_rng(seed)
    scale = pa.array(np.exp(rng.normal(0.0, 0.05, bars.num_rows)))
    open_scale = pa.array(np.exp(rng.normal(0.0, 0.01, bars.num_rows)))
    close = pc.multiply(bars.column("close"), scale)
    open_ = pc.multiply(pc.multiply(bars.column("open"), scale), open_scale)
    high = pc.max_element_wise(pc.multiply(bars.column("high"), scale), open_, close)
    low = pc.min_element_wise(pc.multiply(bars.column("low"), scale), open_, close)
    volume = pc.multiply(bars.column("volume"), pa.array(rng.uniform(0.5, 2.0, bars.num_rows)))
    table = pa.Table.from_arrays(
        [bars.column("symbol"), bars.column("time"), open_, high, low, close, volume, close],
        schema=BAR_SCHEMA,
    )
    validate_bars(table)
    return table


def _appended(bars: pa.Table, sessions: int, seed: int) -> pa.Table:
    """`sessions` new bars per symbol after the last one, from a random walk."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[object]] = {name: [] for name in BAR_SCHEMA.names}
    last = bars.group_by("symbol").aggregate([("time", "max")])
    for symbol, last_time in zip(
        last["symbol"].to_pylist(), last["time_max"].to_pylist(), strict=True
    ):
        close = bars.filter(
            (pc.field("symbol") == symbol) & (pc.field("time") == pa.scalar(last_time, TIME_TYPE))
        )["close"][0].as_py()
        for day in range(1, sessions + 1):
            o = close * np.exp(rng.normal(0, 0.01))
            close = o * np.exp(rng.normal(0, 0.02))
            rows["symbol"].append(symbol)
            rows["time"].append(last_time + timedelta(days=day))
            rows["open"].append(o)
            rows["high"].append(max(o, close) * 1.01)
            rows["low"].append(min(o, close) * 0.99)
            rows["close"].append(close)
            rows["volume"].append(float(rng.integers(1_000_000, 9_000_000)))
            rows["adj_close"].append(None)
    return pa.Table.from_pydict(rows, schema=BAR_SCHEMA)


def _assert_past_unchanged(before: pa.Table, after: pa.Table, names: tuple[str, ...]) -> None:
    old, new = _until(before, CUTOFF), _until(after, CUTOFF)
    assert old.num_rows == new.num_rows > 0
    assert old.column("symbol").equals(new.column("symbol"))
    assert old.column("time").equals(new.column("time"))
    for name in names:
        was, now = old.column(name), new.column(name)
        same_nulls = np.array_equal(np.asarray(was.is_null()), np.asarray(now.is_null()))
        a = was.to_numpy(zero_copy_only=False).astype(np.float64)
        b = now.to_numpy(zero_copy_only=False).astype(np.float64)
        close = np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
        assert same_nulls and close, f"{name} changed at or before t"


def _future_changed(before: pa.Table, after: pa.Table, names: tuple[str, ...]) -> set[str]:
    """The features that moved by more than the tolerance somewhere after t."""
    old, new = _after(before, CUTOFF), _after(after, CUTOFF)
    changed = set()
    for name in names:
        a = old.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        b = new.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
            changed.add(name)
    return changed


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    return dow30_bars()


@pytest.mark.parametrize("change", ["revise", "append"])
def test_features_at_t_ignore_later_bars_through_the_store(bars: pa.Table, change: str) -> None:
    stores = fresh_stores(bars)
    try:
        before = stores.features.materialize(DEFAULT_VIEW)
        labels_before = stores.features.labels()
        future = _after(bars, CUTOFF)
        stores.ingest(_perturbed(future, 1) if change == "revise" else _appended(bars, 30, 2))
        after = stores.features.materialize(DEFAULT_VIEW)
        assert after.version != before.version
        old = stores.features.read(before.name, before.version)
        new = stores.features.read(after.name, after.version)
        labels_after = stores.features.labels()
    finally:
        stores.close()
    names = DEFAULT_VIEW.feature_names
    _assert_past_unchanged(old, new, names)
    if change == "revise":
        # The perturbation reached every feature after t: the comparison is not vacuous.
        assert _future_changed(old, new, names) == set(names)
        # Labels look forward, so the same check must catch them.
        label_names = tuple(labels_before.schema.names[2:])
        with pytest.raises(AssertionError, match="changed at or before t"):
            _assert_past_unchanged(labels_before, labels_after, label_names)
    else:
        assert new.num_rows == old.num_rows + 29 * 30


def test_features_at_t_are_those_computed_from_bars_up_to_t(bars: pa.Table) -> None:
    cursor = duckdb.connect()
    try:
        full = compute_features(cursor, bars, DEFAULT_VIEW)
        cut = compute_features(cursor, _until(bars, CUTOFF), DEFAULT_VIEW)
    finally:
        cursor.close()
    _assert_past_unchanged(full, cut, DEFAULT_VIEW.feature_names)
