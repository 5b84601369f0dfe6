"""FeatureStore: materialization, the registry, versioning, point-in-time and streaming reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import TIME_TYPE, Frequency
from services.marketdata.domain.features import (
    DEFAULT_VIEW,
    FeatureSpec,
    FeatureStore,
    define_view,
)
from services.marketdata.domain.store import BarStore, open_database
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.unit.marketdata.features.helpers import (
    Stores,
    dow30_bars,
    fresh_stores,
    synthetic_bars,
)

SMALL = define_view(
    "small",
    [
        FeatureSpec("ret_1", "log_return", {"period": 1}),
        FeatureSpec("rsi_14", "rsi", {"period": 14}),
        FeatureSpec("vol_5", "realized_vol", {"period": 5}),
        FeatureSpec("rank_ret", "cs_rank", {"source": "ret_1"}),
    ],
)
SMALL_CHANGED = define_view(
    "small",
    [
        FeatureSpec("ret_1", "log_return", {"period": 1}),
        FeatureSpec("rsi_14", "rsi", {"period": 10}),  # same name, different parameter
        FeatureSpec("vol_5", "realized_vol", {"period": 5}),
        FeatureSpec("rank_ret", "cs_rank", {"source": "ret_1"}),
    ],
)


def _days(table: pa.Table) -> list[datetime]:
    return sorted(set(table.column("time").to_pylist()))


def _until(table: pa.Table, last: datetime) -> pa.Table:
    return table.filter(pc.field("time") <= pa.scalar(last, TIME_TYPE))


def _after(table: pa.Table, last: datetime) -> pa.Table:
    return table.filter(pc.field("time") > pa.scalar(last, TIME_TYPE))


@pytest.fixture
def market() -> pa.Table:
    return synthetic_bars(12, 300)


@pytest.fixture
def stores(market: pa.Table) -> Iterator[Stores]:
    """Stores holding the market's first 200 sessions (the rest arrive in some tests)."""
    s = fresh_stores(_until(market, _days(market)[199]))
    yield s
    s.close()


def test_registry_records_hash_watermark_and_counts_on_real_data() -> None:
    bars = dow30_bars()
    stores = fresh_stores()
    try:
        commit = stores.ingest(bars)
        version = stores.features.materialize(DEFAULT_VIEW)
        row = stores.db.execute(
            "SELECT definition_hash, watermark, row_count, symbol_count, feature_names "
            "FROM feature_versions WHERE name = ? AND version = ?",
            [version.name, version.version],
        ).fetchone()
        stored_rows = stores.db.execute(f"SELECT count(*) FROM {version.value_table}").fetchone()
    finally:
        stores.close()
    symbols = sorted(set(bars.column("symbol").to_pylist()))
    assert version.name == "default"
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]{8}", version.version)
    assert version.version.startswith(DEFAULT_VIEW.definition_hash[:12])
    assert version.definition_hash == DEFAULT_VIEW.definition_hash
    assert version.definition == DEFAULT_VIEW
    assert version.watermark == commit.ingested_at
    assert version.row_count == bars.num_rows == 73_022
    assert version.symbol_count == len(symbols) == 29
    assert list(version.symbols) == symbols
    assert version.feature_names == DEFAULT_VIEW.feature_names
    assert version.frequency is Frequency.DAILY
    assert version.first_time == datetime(2008, 11, 24, tzinfo=UTC)
    assert version.last_time == datetime(2018, 11, 23, tzinfo=UTC)
    assert version.created_at >= version.watermark
    assert row is not None and stored_rows == (bars.num_rows,)
    assert row[0] == DEFAULT_VIEW.definition_hash
    assert row[1] == commit.ingested_at.replace(tzinfo=None)
    assert row[2:4] == (bars.num_rows, 29)
    assert tuple(row[4]) == DEFAULT_VIEW.feature_names


def test_read_returns_float64_features_with_utc_times_and_no_nan(stores: Stores) -> None:
    version = stores.features.materialize(SMALL)
    table = stores.features.read("small")
    assert table.schema.names == ["symbol", "time", *SMALL.feature_names]
    assert table.schema.field("time").type == TIME_TYPE
    assert all(table.schema.field(n).type == pa.float64() for n in SMALL.feature_names)
    assert table.num_rows == version.row_count == 12 * 200
    for name in SMALL.feature_names:
        assert not pc.any(pc.is_nan(table.column(name))).as_py()
    assert table.column("ret_1").null_count == 12  # each symbol's first bar
    ordered = table.sort_by([("symbol", "ascending"), ("time", "ascending")])
    assert ordered.equals(table)


def test_same_definition_on_unchanged_bars_is_the_same_version(stores: Stores) -> None:
    first = stores.features.materialize(SMALL)
    again = stores.features.materialize(SMALL)
    assert again == first
    assert [v.version for v in stores.features.list_views()] == [first.version]


def test_new_bars_make_a_new_version_and_the_pinned_one_keeps_its_values(
    stores: Stores, market: pa.Table
) -> None:
    old = stores.features.materialize(SMALL)
    before = stores.features.read("small", old.version)
    commit = stores.ingest(_after(market, _days(market)[199]))
    new = stores.features.materialize(SMALL)
    assert new.version != old.version
    assert new.definition_hash == old.definition_hash
    assert new.watermark == commit.ingested_at > old.watermark
    assert new.row_count == 12 * 300
    assert stores.features.read("small", old.version).equals(before)
    assert stores.features.get_view("small").version == new.version
    assert [v.version for v in stores.features.list_views("small")] == [old.version, new.version]


def test_revised_bars_make_a_new_version(stores: Stores, market: pa.Table) -> None:
    old = stores.features.materialize(SMALL)
    revised = _until(market, _days(market)[0])
    close = pc.multiply(revised.column("close"), 1.0001)
    high = pc.max_element_wise(revised.column("high"), close)
    revised = revised.set_column(revised.schema.get_field_index("close"), "close", close)
    revised = revised.set_column(revised.schema.get_field_index("high"), "high", high)
    stores.ingest(revised)
    assert stores.features.materialize(SMALL).version != old.version


def test_a_changed_definition_is_a_new_version_and_the_old_stays_readable(
    stores: Stores,
) -> None:
    old = stores.features.materialize(SMALL)
    old_values = stores.features.read("small", old.version)
    new = stores.features.materialize(SMALL_CHANGED)
    assert new.definition_hash != old.definition_hash
    assert new.version.split("-")[0] != old.version.split("-")[0]
    assert new.watermark == old.watermark
    assert stores.features.read("small", old.version).equals(old_values)
    latest = stores.features.read("small")
    assert latest.column("ret_1").equals(old_values.column("ret_1"))
    assert not latest.column("rsi_14").equals(old_values.column("rsi_14"))
    assert stores.features.definition("small") == SMALL_CHANGED


def test_delete_version_removes_it_and_its_values_on_purpose(stores: Stores) -> None:
    old = stores.features.materialize(SMALL)
    new = stores.features.materialize(SMALL_CHANGED)
    deleted = stores.features.delete_version("small", new.version)
    assert deleted == new
    with pytest.raises(NotFound) as caught:
        stores.features.read("small", new.version)
    assert caught.value.reason == "FEATURE_VERSION_NOT_FOUND"
    tables = {r[0] for r in stores.db.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert new.value_table not in tables and old.value_table in tables
    assert stores.features.get_view("small") == old
    with pytest.raises(NotFound):
        stores.features.delete_version("small", new.version)
    stores.features.delete_version("small", old.version)
    with pytest.raises(NotFound) as caught:
        stores.features.get_view("small")
    assert caught.value.reason == "FEATURE_VIEW_NOT_FOUND"


def test_as_of_reads_the_latest_version_created_by_then(stores: Stores, market: pa.Table) -> None:
    v1 = stores.features.materialize(SMALL)
    stores.ingest(_after(market, _days(market)[199]))
    v2 = stores.features.materialize(SMALL)
    between = v1.created_at + (v2.created_at - v1.created_at) / 2
    assert stores.features.get_view("small", as_of=between) == v1
    assert stores.features.get_view("small", as_of=v1.created_at) == v1
    assert stores.features.get_view("small", as_of=v2.created_at) == v2
    assert stores.features.read("small", as_of=between).equals(
        stores.features.read("small", v1.version)
    )
    naive = between.replace(tzinfo=None)  # naive times read as UTC
    assert stores.features.get_view("small", as_of=naive) == v1
    with pytest.raises(NotFound, match="at or before"):
        stores.features.read("small", as_of=v1.created_at - timedelta(microseconds=1))
    with pytest.raises(NotFound, match="at or before"):
        stores.features.read("small", v2.version, as_of=between)


def test_read_filters_symbols_time_range_and_features(stores: Stores, market: pa.Table) -> None:
    stores.features.materialize(SMALL)
    days = _days(market)
    table = stores.features.read(
        "small",
        symbols=["syn002", "SYN001 "],
        start=days[10],
        end=days[20],
        features=["vol_5", "ret_1"],
    )
    assert table.schema.names == ["symbol", "time", "vol_5", "ret_1"]
    assert sorted(set(table.column("symbol").to_pylist())) == ["SYN001", "SYN002"]
    assert _days(table) == days[10:20]
    assert table.num_rows == 20


def test_scan_streams_batches_that_add_up_to_the_read(stores: Stores) -> None:
    stores.features.materialize(SMALL)
    scan = stores.features.scan("small", batch_rows=500)
    batches = list(scan.batches())
    assert len(batches) >= 5
    assert all(b.num_rows <= 500 and b.schema == scan.schema for b in batches)
    assert pa.Table.from_batches(batches).equals(stores.features.read("small"))
    assert scan.version == stores.features.get_view("small")
    assert scan.to_table().equals(stores.features.read("small"))  # a scan can run again


def test_bad_reads_fail_before_any_row_is_read(stores: Stores) -> None:
    version = stores.features.materialize(SMALL)
    read = stores.features.scan
    with pytest.raises(NotFound) as caught:
        read("nope")
    assert caught.value.reason == "FEATURE_VIEW_NOT_FOUND"
    with pytest.raises(NotFound) as caught:
        read("small", "0123456789ab-01234567")
    assert caught.value.reason == "FEATURE_VERSION_NOT_FOUND"
    with pytest.raises(NotFound) as caught:
        read("small", symbols=["SYN001", "ZZZZ"])
    assert caught.value.reason == "SYMBOL_NOT_FOUND" and "ZZZZ" in caught.value.message
    first = version.first_time
    assert first is not None
    with pytest.raises(InvalidArgument, match="time_range"):
        read("small", start=first + timedelta(days=5), end=first)
    with pytest.raises(InvalidArgument, match="time_range"):
        read("small", start=first, end=first)
    with pytest.raises(InvalidArgument) as bad:
        read("small", features=["ret_1", "nope"])
    assert bad.value.reason == "UNKNOWN_FEATURE"
    with pytest.raises(InvalidArgument):
        read("small", features=[])
    with pytest.raises(InvalidArgument):
        read("small", features=["ret_1", "ret_1"])
    with pytest.raises(InvalidArgument, match="batch_rows"):
        read("small", batch_rows=0)
    with pytest.raises(InvalidArgument, match="symbols"):
        read("small", symbols=[" "])


@pytest.mark.parametrize("label", ["fwd_ret_1", "fwd_ret_20", "direction_5"])
def test_labels_can_never_be_selected_as_features(stores: Stores, label: str) -> None:
    stores.features.materialize(SMALL)
    with pytest.raises(InvalidArgument) as caught:
        stores.features.read("small", features=["ret_1", label])
    assert caught.value.reason == "LABEL_NOT_A_FEATURE"


def test_materialize_a_subset_of_symbols(stores: Stores) -> None:
    version = stores.features.materialize(SMALL, symbols=["syn003", "SYN001"])
    assert version.symbols == ("SYN001", "SYN003")
    assert version.symbol_count == 2 and version.row_count == 400
    everyone = stores.features.materialize(SMALL)
    assert everyone.version != version.version  # another universe, another version
    with pytest.raises(NotFound, match="SYN999"):
        stores.features.materialize(SMALL, symbols=["SYN001", "SYN999"])
    # Ranks are among the materialized universe: with two symbols, 0 or 1.
    ranks = stores.features.read("small", version.version).column("rank_ret").drop_null()
    assert set(ranks.to_pylist()) == {0.0, 1.0}


def test_materialize_by_name_and_its_errors(stores: Stores) -> None:
    assert stores.features.materialize("default").name == "default"
    stores.features.materialize(SMALL)
    assert stores.features.materialize("small").definition == SMALL
    with pytest.raises(NotFound):
        stores.features.materialize("nope")
    with pytest.raises(FailedPrecondition):
        stores.features.materialize(SMALL, Frequency.MINUTE)


def test_versions_survive_a_restart(tmp_path: Path, market: pa.Table) -> None:
    path = tmp_path / "marketdata.duckdb"
    db = open_database(path)
    bars = BarStore(db)
    stores = Stores(db, bars, FeatureStore(db, bars))
    stores.ingest(market)
    first = stores.features.materialize(SMALL)
    values = stores.features.read("small")
    db.close()
    db = open_database(path)
    bars = BarStore(db)
    features = FeatureStore(db, bars)
    try:
        assert features.list_views() == [first]
        assert features.read("small").equals(values)
        assert features.materialize(SMALL) == first
        changed = features.materialize(SMALL_CHANGED)
        assert changed.created_at > first.created_at
    finally:
        db.close()
