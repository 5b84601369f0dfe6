"""Labels: forward log returns and directions, computed from bars, apart from features."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import TIME_TYPE
from services.marketdata.domain.features import DEFAULT_VIEW
from services.marketdata.domain.features.labels import is_label_name, label_names
from services.runtime.errors import InvalidArgument, NotFound
from tests.unit.marketdata.features.helpers import Stores, fresh_stores, synthetic_bars


@pytest.fixture
def market() -> pa.Table:
    return synthetic_bars(6, 120)


@pytest.fixture
def stores(market: pa.Table) -> Iterator[Stores]:
    s = fresh_stores(market)
    yield s
    s.close()


def _closes(bars: pa.Table, symbol: str) -> np.ndarray:
    own = bars.filter(pc.field("symbol") == symbol)
    return np.asarray(own.column("close").to_numpy(), dtype=np.float64)


def test_forward_returns_and_directions(stores: Stores, market: pa.Table) -> None:
    table = stores.features.labels()
    assert table.schema.names == ["symbol", "time", *label_names((1, 5, 20))]
    assert table.schema.field("time").type == TIME_TYPE
    assert table.schema.field("fwd_ret_5").type == pa.float64()
    assert table.schema.field("direction_5").type == pa.int8()
    assert table.num_rows == market.num_rows
    for symbol in ("SYN001", "SYN004"):
        close = _closes(market, symbol)
        own = table.filter(pc.field("symbol") == symbol)
        for h in (1, 5, 20):
            expected = np.log(close[h:] / close[:-h])
            got = own.column(f"fwd_ret_{h}").to_numpy(zero_copy_only=False)
            np.testing.assert_allclose(got[:-h], expected, rtol=1e-12, atol=0)
            assert own.column(f"fwd_ret_{h}").slice(len(close) - h).null_count == h
            direction = own.column(f"direction_{h}")
            assert direction.slice(len(close) - h).null_count == h
            assert direction.slice(0, len(close) - h).to_pylist() == [
                1 if r > 0 else 0 for r in expected
            ]


def test_labels_near_the_end_of_a_range_look_past_it(stores: Stores, market: pa.Table) -> None:
    days = sorted(set(market.column("time").to_pylist()))
    table = stores.features.labels(["syn002"], start=days[10], end=days[30], horizons=[5])
    assert table.schema.names == ["symbol", "time", "fwd_ret_5", "direction_5"]
    assert table.column("time").to_pylist() == days[10:30]
    close = _closes(market, "SYN002")
    expected = np.log(close[15:35] / close[10:30])
    np.testing.assert_allclose(table.column("fwd_ret_5").to_numpy(), expected, rtol=1e-12)


def test_labels_as_of_a_knowledge_time_use_the_bars_known_then(
    stores: Stores, market: pa.Table
) -> None:
    version = stores.features.materialize(DEFAULT_VIEW)
    before = stores.features.labels(as_of=version.watermark)
    revised = market.filter(pc.field("symbol") == "SYN001")
    revised = revised.set_column(
        revised.schema.get_field_index("close"), "close", pc.multiply(revised["low"], 1.0)
    )
    stores.ingest(revised)
    assert stores.features.labels(as_of=version.watermark).equals(before)
    assert not stores.features.labels().equals(before)


def test_labels_are_never_stored_with_features(stores: Stores) -> None:
    version = stores.features.materialize(DEFAULT_VIEW)
    columns = [
        r[0]
        for r in stores.db.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [version.value_table]
        ).fetchall()
    ]
    assert columns and not any(is_label_name(c) for c in columns)
    assert not any(is_label_name(n) for n in version.feature_names)


@pytest.mark.parametrize("horizons", [[], [0], [-1], [1, 1], [1.5], [True], [100_000]])
def test_bad_horizons(stores: Stores, horizons: list[object]) -> None:
    with pytest.raises(InvalidArgument, match="horizons"):
        stores.features.labels(horizons=horizons)  # type: ignore[arg-type]


def test_bad_label_requests(stores: Stores) -> None:
    with pytest.raises(NotFound) as caught:
        stores.features.labels(["SYN001", "NOPE"])
    assert caught.value.reason == "SYMBOL_NOT_FOUND"
    with pytest.raises(InvalidArgument, match="time_range"):
        stores.features.labels(start=datetime(2020, 2, 1, tzinfo=UTC), end=datetime(2020, 1, 1))
