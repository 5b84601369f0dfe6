"""The engine end to end: bulk reads, determinism, the reported window, input errors, the
executor contract and the result tables."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from backtest import (
    Costs,
    ExecutionTerms,
    FillBatch,
    FillPrice,
    Market,
    MemoryBars,
    MemoryFeatures,
    MemoryRegimes,
    MemorySignals,
    Operator,
    OrderBatch,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    SimulatedExecutor,
    Sizing,
    SizingMethod,
    Sources,
    StrategyConfig,
    run_backtest,
    run_backtest_sync,
    simulator,
    sma_crossover,
)
from backtest.results import BacktestResult
from services.runtime.errors import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
)
from tests.unit.backtest.helpers import START, flat_bars, long_when, random_bars, strategy, values

SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]
BARS = random_bars(SYMBOLS, 250, seed=11)
COSTS = Costs(commission_bps=5, commission_per_share=0.01, slippage_bps=3)


def mixed_config(**changes: object) -> StrategyConfig:
    """Long on a high score in a calm regime, short on a low one; signal-proportional."""
    config = strategy(
        SYMBOLS,
        Rules(
            long_entry=RuleGroup.of(Rule.signal(Operator.GT, 0.3), Rule.regime_in("CALM")),
            short_entry=RuleGroup.of(Rule.signal(Operator.LT, -0.3)),
            short_exit=RuleGroup.of(Rule.feature("f", Operator.GT, 0.5)),
        ),
        sizing=Sizing(SizingMethod.SIGNAL_PROPORTIONAL, gross_target=0.8),
        costs=COSTS,
        signal_model="m",
        regime_model="r",
        feature_view="v",
        benchmark="AAA",
        initial_cash=1e6,
    )
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def mixed_tables() -> dict[str, pa.Table]:
    rng = np.random.default_rng(9)
    return {
        "signals": values({s: rng.normal(size=250).tolist() for s in SYMBOLS}, "score"),
        "regimes": values(
            {s: rng.choice(["CALM", "STRESS"], size=250).tolist() for s in SYMBOLS}, "regime"
        ),
        "features": values({s: rng.normal(size=250).tolist() for s in SYMBOLS}, "f"),
    }


def same(a: BacktestResult, b: BacktestResult) -> None:
    """Bit-for-bit the same result."""
    assert np.array_equal(a.equity.times, b.equity.times)
    for name in ("equity", "cash", "gross_exposure", "net_exposure"):
        assert np.array_equal(getattr(a.equity, name), getattr(b.equity, name), equal_nan=True)
    assert a.trades.to_table().equals(b.trades.to_table())
    assert np.array_equal(a.positions, b.positions)
    assert a.kpis == b.kpis


async def test_sources_are_read_once_each_in_bulk() -> None:
    tables = mixed_tables()
    bars = MemoryBars(BARS)
    signals = MemorySignals({"m": tables["signals"]})
    regimes = MemoryRegimes(tables["regimes"])
    features = MemoryFeatures(tables["features"])
    config = mixed_config()
    result = await run_backtest(config, Sources(bars, signals, regimes, features))
    assert len(bars.calls) == len(signals.calls) == len(regimes.calls) == len(features.calls) == 1
    assert bars.calls[0][0] == tuple(SYMBOLS)
    assert signals.calls == [("m", tuple(SYMBOLS))]
    assert features.calls == [("v", ("f",))]
    assert len(result.trades) > 20
    same(result, run_backtest_sync(config, BARS, **tables))


def test_the_same_config_and_data_give_the_same_result() -> None:
    tables = mixed_tables()
    first = run_backtest_sync(mixed_config(), BARS, **tables)
    again = run_backtest_sync(mixed_config(), BARS, **tables)
    same(first, again)
    order = np.random.default_rng(0).permutation(BARS.num_rows)
    shuffled = {
        k: v.take(np.random.default_rng(1).permutation(v.num_rows)) for k, v in tables.items()
    }
    same(first, run_backtest_sync(mixed_config(), BARS.take(order), **shuffled))


def test_start_and_end_bound_the_report_and_indicators_warm_up_before_start() -> None:
    config = sma_crossover(SYMBOLS, 5, 20, weight=0.2)
    start, end = START + timedelta(days=100), START + timedelta(days=200)
    window = run_backtest_sync(dataclasses.replace(config, start=start, end=end), BARS)
    assert window.equity.times[0] == int(start.timestamp() * 1e6)
    assert window.equity.times.size == 100  # [start, end)
    assert window.equity.equity[0] == pytest.approx(1e6)  # flat until the first cross
    warm = window.trades.to_table().column("decision_time").to_pylist()
    assert warm and warm[0] >= start  # crossings from the start on, with full averages


async def test_the_warm_up_margin_is_read_from_the_sources() -> None:
    bars = MemoryBars(BARS)
    start = START + timedelta(days=100)
    config = dataclasses.replace(sma_crossover(SYMBOLS, 5, 20), start=start)
    result = await run_backtest(config, Sources(bars))
    ((symbols, _, read_from, read_to),) = bars.calls
    assert symbols == tuple(SYMBOLS) and read_to is None
    # 21 bars of warm-up (SMA(20) and the bar before), as calendar days with weekends and
    # holidays: ceil(21 * 7 / 5) + 10 = 40.
    assert read_from == start - timedelta(days=40)
    assert result.equity.times[0] == int(start.timestamp() * 1e6)


def test_missing_data_is_named() -> None:
    config = sma_crossover([*SYMBOLS, "ZZZ"], 5, 20)
    with pytest.raises(NotFound) as missing:
        run_backtest_sync(config, BARS)
    assert [v.field for v in missing.value.violations] == ["universe[4]"]
    late = dataclasses.replace(sma_crossover(SYMBOLS, 5, 20), start=START + timedelta(days=900))
    with pytest.raises(OutOfRange):
        run_backtest_sync(late, BARS)
    with pytest.raises(NotFound, match="QQQ"):
        run_backtest_sync(
            dataclasses.replace(config, universe=tuple(SYMBOLS), benchmark="QQQ"), BARS
        )


def test_bad_bars_are_rejected_naming_the_field() -> None:
    bad = BARS.set_column(5, "close", pa.array([np.nan, *BARS["close"].to_pylist()[1:]]))
    with pytest.raises(InvalidArgument) as caught:
        run_backtest_sync(sma_crossover(SYMBOLS, 5, 20), bad)
    assert caught.value.violations[0].field == "bars.close"
    twice = pa.concat_tables([BARS, BARS.slice(0, 1)])
    with pytest.raises(InvalidArgument, match="two bars of AAA"):
        run_backtest_sync(sma_crossover(SYMBOLS, 5, 20), twice)


async def test_missing_sources_and_features_are_reported() -> None:
    with pytest.raises(FailedPrecondition, match="signal source"):
        await run_backtest(mixed_config(), Sources(MemoryBars(BARS)))
    tables = mixed_tables()
    tables["features"] = tables["features"].rename_columns(["symbol", "time", "g"])
    with pytest.raises(InvalidArgument) as caught:
        run_backtest_sync(mixed_config(), BARS, **tables)
    assert caught.value.violations[0].field == "rules.short_exit.rules[0].field"


class Delegating:
    """An executor that is not the built-in one (so the engine calls it per bar)."""

    def __init__(self) -> None:
        self.calls = 0

    def execute(self, orders: OrderBatch, market: Market, terms: ExecutionTerms) -> FillBatch:
        self.calls += 1
        return SimulatedExecutor().execute(orders, market, terms)


@pytest.mark.parametrize("fill", [FillPrice.NEXT_OPEN, FillPrice.CLOSE])
@pytest.mark.parametrize("tolerance", [None, 0.0, 0.05])
def test_any_executor_gets_the_same_fills_as_the_built_in_one(
    fill: FillPrice, tolerance: float | None
) -> None:
    config = mixed_config(fill=fill, rebalance=Rebalance(drift_tolerance=tolerance))
    tables = mixed_tables()
    executor = Delegating()
    called = run_backtest_sync(config, BARS, executor=executor, **tables)
    assert executor.calls > 10
    same(called, run_backtest_sync(config, BARS, **tables))


def test_resizing_many_symbols_at_once_matches_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = mixed_config(rebalance=Rebalance(drift_tolerance=0.01))
    tables = mixed_tables()
    one_by_one = run_backtest_sync(config, BARS, **tables)
    monkeypatch.setattr(simulator, "SCALAR_LIMIT", 0)
    same(one_by_one, run_backtest_sync(config, BARS, **tables))


class HalfFills:
    """Fills half of each order (rounded down), at the decision close, without costs."""

    def execute(self, orders: OrderBatch, market: Market, terms: ExecutionTerms) -> FillBatch:
        quantity = np.trunc(orders.quantity / 2)
        bar = np.full(len(orders), orders.bar, dtype=np.int64)
        zero = np.zeros(len(orders))
        return FillBatch(bar, quantity, orders.reference_price.copy(), zero, zero)


def test_partial_fills_are_booked_as_filled_and_the_rest_is_ordered_again() -> None:
    bars = flat_bars({"AAA": [10.0] * 4})
    config = strategy(["AAA"], long_when(Rule.signal(Operator.GT, 0.0)), signal_model="m")
    scores = values({"AAA": [1.0] * 4}, "score")
    result = run_backtest_sync(config, bars, signals=scores, executor=HalfFills())
    # Target 50 shares: 25 filled; then still long, so nothing more in hold mode.
    assert result.positions[:, 0].tolist() == [25, 25, 25, 25]


class Broken:
    def execute(self, orders: OrderBatch, market: Market, terms: ExecutionTerms) -> FillBatch:
        bar = np.full(len(orders), market.rows, dtype=np.int64)  # after the data
        zero = np.zeros(len(orders))
        return FillBatch(bar, orders.quantity, orders.reference_price, zero, zero)


def test_an_executor_breaking_the_contract_is_an_internal_error() -> None:
    bars = flat_bars({"AAA": [10.0] * 4})
    config = strategy(["AAA"], long_when(Rule.signal(Operator.GT, 0.0)), signal_model="m")
    with pytest.raises(Internal, match="after the data"):
        run_backtest_sync(
            config, bars, signals=values({"AAA": [1.0] * 4}, "score"), executor=Broken()
        )


def test_results_as_tables() -> None:
    result = run_backtest_sync(mixed_config(), BARS, **mixed_tables())
    equity = result.equity.to_table()
    assert equity.column_names == ["time", "equity", "cash", "gross_exposure", "net_exposure"]
    assert equity.schema.field("time").type == pa.timestamp("us", tz="UTC")
    trades = result.trades.to_table()
    assert trades.column_names == [
        "time", "symbol", "side", "quantity", "price", "commission", "slippage", "decision_time",
    ]  # fmt: skip
    assert set(trades.column("side").to_pylist()) == {"BUY", "SELL"}
    positions = result.positions_table()
    assert positions.column_names == ["time", "symbol", "quantity", "market_value", "weight"]
    assert positions.num_rows == np.count_nonzero(result.positions)
    assert 0 not in positions.column("quantity").to_pylist()
    assert result.kpis.as_dict()["fills"] == len(result.trades)


def test_progress_is_reported_up_to_done() -> None:
    seen: list[float] = []
    run_backtest_sync(mixed_config(), BARS, progress=seen.append, **mixed_tables())
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) <= 102
