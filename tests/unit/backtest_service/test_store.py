"""The KPI store: records, results and pages survive a round trip through DuckDB."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pytest

from backtest import run_backtest_sync
from services.backtest.domain import store as store_module
from services.backtest.domain.records import (
    BacktestRecord,
    BacktestState,
    ModelUsed,
    Provenance,
    RunError,
)
from services.backtest.domain.store import (
    EQUITY_SCHEMA,
    TRADES_SCHEMA,
    BacktestStore,
    kpis_from_json,
    kpis_to_json,
)
from services.runtime.errors import NotFound
from tests.unit.backtest_service.conftest import BARS, INGESTED, regime_filtered, sma

CREATED = datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)


def record(backtest_id: str = "b1", **changes: object) -> BacktestRecord:
    base = BacktestRecord(
        id=backtest_id,
        config=sma(),
        state=BacktestState.PENDING,
        create_time=CREATED,
        operation=f"operations/backtest/{backtest_id}",
        request_id="rq",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_record_reads_back_as_written(store: BacktestStore) -> None:
    result = run_backtest_sync(sma(), BARS)
    written = record(
        config=regime_filtered(),
        state=BacktestState.FAILED,
        progress=0.4,
        progress_message="simulating",
        start_time=CREATED + timedelta(seconds=1),
        end_time=CREATED + timedelta(seconds=2),
        kpis=result.kpis,
        provenance=Provenance(
            INGESTED, ModelUsed("m", 3, "fv-1"), ModelUsed("market", 2, "regime-v1"), "v", "v1"
        ),
        error=RunError("OUT_OF_RANGE", "no bars", "TIME_OUT_OF_RANGE", ("start",)),
        bar_count=10,
        trade_count=4,
    )
    store.save(written)
    assert store.get("b1") == written
    assert store.exists("b1") and not store.exists("b2")


def test_kpis_keep_undefined_values_and_drawdown_times() -> None:
    kpis = run_backtest_sync(sma(), BARS).kpis
    assert kpis_from_json(kpis_to_json(kpis)) == kpis
    undefined = dataclasses.replace(kpis, sharpe=None, drawdown_recovery=None, beta=None)
    assert kpis_from_json(kpis_to_json(undefined)) == undefined


def test_an_unknown_id_is_not_found(store: BacktestStore) -> None:
    with pytest.raises(NotFound, match="backtests/nope"):
        store.get("nope")


def test_results_are_stored_with_the_record_and_replace_an_earlier_run(
    store: BacktestStore,
) -> None:
    result = run_backtest_sync(sma(), BARS)
    done = record(state=BacktestState.SUCCEEDED, kpis=result.kpis)
    store.save_result(done, result)
    store.save_result(done, result)  # a second write replaces, never duplicates
    equity = store.equity("b1")
    assert equity.schema.equals(EQUITY_SCHEMA)
    assert equity.num_rows == result.equity.times.size
    np.testing.assert_array_equal(equity.column("equity").to_numpy(), result.equity.equity)
    returns = equity.column("bar_return").to_numpy()
    assert returns[0] == pytest.approx(result.equity.equity[0] / 1_000_000 - 1)
    trades = store.trades("b1")
    assert trades.schema.equals(TRADES_SCHEMA)
    assert trades.to_pylist() == result.trades.to_table().to_pylist()
    assert store.get("b1").state is BacktestState.SUCCEEDED


def test_a_failed_result_write_leaves_nothing_half_written(
    store: BacktestStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_backtest_sync(sma(), BARS)
    first = record(state=BacktestState.SUCCEEDED, kpis=result.kpis)
    store.save_result(first, result)
    rows = store.equity("b1").num_rows

    def broken(_: BacktestRecord) -> list[object]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_module, "_row", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.save_result(record(state=BacktestState.FAILED), result)
    monkeypatch.undo()
    assert store.get("b1") == first
    assert store.equity("b1").num_rows == rows
    assert store.trades("b1").num_rows == len(result.trades)


def test_pages_run_newest_first_and_filter(store: BacktestStore) -> None:
    for i in range(5):
        state = BacktestState.SUCCEEDED if i % 2 else BacktestState.FAILED
        name = "even" if i % 2 == 0 else "odd"
        config = dataclasses.replace(sma(), name=name)
        store.save(
            record(
                f"b{i}", state=state, config=config, create_time=CREATED + i * timedelta(seconds=1)
            )
        )
    assert [r.id for r in store.page(limit=10)] == ["b4", "b3", "b2", "b1", "b0"]
    assert [r.id for r in store.page(strategy_name="odd")] == ["b3", "b1"]
    assert [r.id for r in store.page(state=BacktestState.FAILED, limit=2)] == ["b4", "b2"]
    after = ((CREATED + timedelta(seconds=3)).replace(tzinfo=None).isoformat(), "b3")
    assert [r.id for r in store.page(after=after)] == ["b2", "b1", "b0"]


def test_unfinished_runs_are_found_for_recovery(store: BacktestStore) -> None:
    store.save(record("p", state=BacktestState.PENDING))
    store.save(record("r", state=BacktestState.RUNNING))
    store.save(record("s", state=BacktestState.SUCCEEDED))
    assert sorted(r.id for r in store.unfinished()) == ["p", "r"]


def test_the_database_reopens_with_its_data(tmp_path: object) -> None:
    path = str(tmp_path) + "/again.duckdb"  # type: ignore[operator]
    first = duckdb.connect(path)
    BacktestStore(first).save(record())
    first.close()
    second = duckdb.connect(path)
    try:
        assert BacktestStore(second).get("b1") == record()
    finally:
        second.close()
