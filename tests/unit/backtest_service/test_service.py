"""The Backtests facade over in-memory sources: checks, runs, stored results, reads."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from backtest import Costs, Limits, Operator, Rule, RuleGroup, Rules, run_backtest_sync
from backtest.config import Frequency, StrategyConfig
from services.backtest.domain.memory import MemorySources
from services.backtest.domain.records import BacktestState, ModelUsed
from services.backtest.domain.service import Backtests
from services.backtest.domain.store import BacktestStore
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
)
from tests.unit.backtest.helpers import values
from tests.unit.backtest_service.conftest import (
    BARS,
    DAYS,
    INGESTED,
    SYMBOLS,
    regime_filtered,
    sma,
)


def fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in exc.value.violations]


async def test_a_run_stores_the_engines_kpis_curve_and_trades(backtests: Backtests) -> None:
    steps: list[tuple[float, str]] = []
    record = backtests.create(await backtests.prepare(sma()))
    assert backtests.get(record.name).state is BacktestState.PENDING
    done = await backtests.run(record.id, lambda f, m: steps.append((f, m)))
    expected = run_backtest_sync(sma(), BARS)
    assert done.state is BacktestState.SUCCEEDED and done.progress == 1.0
    assert done.kpis == expected.kpis
    assert backtests.kpis(record.id) == expected.kpis
    assert done.bar_count == DAYS and done.trade_count == len(expected.trades) > 0
    assert done.provenance.data_watermark == INGESTED
    assert done.provenance.signal_model is None and done.provenance.regime_model is None
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    assert {m for _, m in steps} >= {"simulating", "storing results"}
    equity = await backtests.equity(record.name)
    np.testing.assert_array_equal(equity.column("equity").to_numpy(), expected.equity.equity)
    trades = await backtests.trades(record.id)
    assert trades.to_pylist() == expected.trades.to_table().to_pylist()
    stored = backtests.get(record.id)
    assert stored == done


async def test_symbols_and_labels_are_normalized_before_the_checks(
    backtests: Backtests, sources: MemorySources
) -> None:
    labels = values({"AAA": ["CALM_UPTREND"] * DAYS}, "regime")
    sources.regimes = labels
    lower = dataclasses.replace(regime_filtered(), universe=("aaa", " bbb "))
    config = await backtests.prepare(lower)
    assert config.universe == ("AAA", "BBB")
    rule = config.rules.long_entry.rules[1]  # type: ignore[union-attr]
    assert rule.symbol == "AAA" and rule.values == ("CALM_UPTREND",)
    done = await backtests.run(backtests.create(config).id)
    assert done.provenance.regime_model == ModelUsed("market", 0)
    assert done.kpis is not None and done.kpis.fills > 0


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (dataclasses.replace(sma(), universe=()), "universe"),
        (dataclasses.replace(sma(), universe=("AAA", "NOPE")), "universe[1]"),
        (dataclasses.replace(sma(), benchmark="ZZZ"), "benchmark"),
        (sma(costs=Costs(commission_bps=-1)), "costs.commission_bps"),
        (sma(limits=Limits(gross_leverage=1.0, net_leverage=2.0)), "limits.net_leverage"),
        (dataclasses.replace(sma(), universe=tuple(f"S{i}" for i in range(11))), "universe"),
        (dataclasses.replace(regime_filtered(), regime_model="no spaces"), "regime_model"),
        (
            dataclasses.replace(
                regime_filtered(),
                rules=Rules(long_entry=RuleGroup.of(Rule.regime_in("CALM", symbol="AAA"))),
            ),
            "rules.long_entry.rules[0].values[0]",
        ),
        (
            dataclasses.replace(
                sma(),
                rules=Rules(
                    long_entry=RuleGroup.of(Rule.sma_cross(5, 20, Operator.GT)),
                    long_exit=RuleGroup.of(Rule.sma_cross(5, 20, Operator.GE)),
                ),
            ),
            "rules.long_exit",
        ),
    ],
)
async def test_bad_configs_name_the_field(
    backtests: Backtests, config: StrategyConfig, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await backtests.prepare(config)
    assert field in fields(caught)


async def test_unknown_symbols_are_named_wherever_they_appear(backtests: Backtests) -> None:
    config = dataclasses.replace(regime_filtered(), universe=("AAA", "XXX", "YYY"), benchmark="XXX")
    with pytest.raises(InvalidArgument) as caught:
        await backtests.prepare(config)
    assert fields(caught) == ["universe[1]", "universe[2]", "benchmark"]
    assert "XXX" in caught.value.message and caught.value.metadata["field"] == "universe[1]"
    rule_symbol = dataclasses.replace(
        regime_filtered(),
        rules=Rules(long_entry=RuleGroup.of(Rule.regime_in("CALM_UPTREND", symbol="QQQ"))),
    )
    with pytest.raises(InvalidArgument) as caught:
        await backtests.prepare(rule_symbol)
    assert fields(caught) == ["rules.long_entry.rules[0].symbol"]


async def test_a_run_the_data_cannot_serve_fails_and_says_why(backtests: Backtests) -> None:
    late = sma(start=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(OutOfRange):
        await backtests.run_config(late)
    (failed,), _ = backtests.list(state=BacktestState.FAILED)
    assert failed.error is not None and failed.error.code == "OUT_OF_RANGE"
    assert failed.error.fields == ("universe",) and failed.end_time is not None
    with pytest.raises(FailedPrecondition, match="FAILED"):
        backtests.kpis(failed.id)
    with pytest.raises(FailedPrecondition):
        await backtests.equity(failed.id)


async def test_a_strategy_reading_signals_records_the_model_used(
    store: BacktestStore,
) -> None:
    rng = np.random.default_rng(3)
    scores = values({s: rng.normal(size=DAYS).tolist() for s in SYMBOLS}, "score")
    sources = MemorySources(
        BARS, signals=scores, versions={"alpha@champion": ModelUsed("alpha", 7, "fv")}
    )
    backtests = Backtests(store, sources)
    config = dataclasses.replace(
        sma(),
        rules=Rules(long_entry=RuleGroup.of(Rule.signal(Operator.GT, 0.5))),
        signal_model="alpha@champion",
    )
    done = await backtests.run_config(config)
    assert done.provenance.signal_model == ModelUsed("alpha", 7, "fv")
    assert done.kpis == run_backtest_sync(config, BARS, signals=scores).kpis


class SlowBars:
    """Bars that arrive after a while, so a run can be cancelled while it reads."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def bars(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        self.started.set()
        await asyncio.sleep(30)
        return BARS


async def test_a_cancelled_run_is_recorded_as_cancelled(backtests: Backtests) -> None:
    slow = SlowBars()
    provider = backtests.provider
    assert isinstance(provider, MemorySources)
    original = provider.for_run

    def for_run(config: StrategyConfig):  # type: ignore[no-untyped-def]
        run = original(config)
        return dataclasses.replace(run, sources=dataclasses.replace(run.sources, bars=slow))

    provider.for_run = for_run  # type: ignore[method-assign]
    record = backtests.create(await backtests.prepare(sma()))
    task = asyncio.create_task(backtests.run(record.id))
    await slow.started.wait()
    assert backtests.get(record.id).state is BacktestState.RUNNING
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = backtests.get(record.id)
    assert cancelled.state is BacktestState.CANCELLED
    assert cancelled.error is not None and cancelled.error.code == "CANCELLED"


async def test_runs_left_unfinished_by_a_restart_are_cancelled(backtests: Backtests) -> None:
    pending = backtests.create(await backtests.prepare(sma()))
    assert backtests.recover() == [pending.id]
    assert backtests.get(pending.id).state is BacktestState.CANCELLED
    assert backtests.recover() == []


async def test_lists_page_newest_first_with_filters(backtests: Backtests) -> None:
    made = []
    for i in range(5):
        config = dataclasses.replace(sma(), name="even" if i % 2 == 0 else "odd")
        made.append(backtests.create(await backtests.prepare(config)).id)
    seen, token, pages = [], "", 0
    while True:
        page, token = backtests.list(page_size=2, page_token=token)
        seen += [r.id for r in page]
        pages += 1
        if not token:
            break
    assert seen == made[::-1] and pages == 3
    odd, _ = backtests.list(strategy_name="odd")
    assert [r.id for r in odd] == [made[3], made[1]]
    _, token = backtests.list(page_size=1)
    with pytest.raises(InvalidArgument, match="page_token"):
        backtests.list(strategy_name="odd", page_size=1, page_token=token)
    with pytest.raises(InvalidArgument, match="page_token"):
        backtests.list(page_token="garbage")
    with pytest.raises(InvalidArgument, match="page_size"):
        backtests.list(page_size=-1)


async def test_unknown_and_malformed_names(backtests: Backtests) -> None:
    with pytest.raises(NotFound, match="backtests/missing"):
        backtests.get("backtests/missing")
    for bad in ("", "backtests/", "a/b", "x" * 101):
        with pytest.raises(InvalidArgument, match="name"):
            backtests.get(bad)
    pending = backtests.create(await backtests.prepare(sma()))
    with pytest.raises(FailedPrecondition, match="PENDING"):
        backtests.kpis(pending.name)
