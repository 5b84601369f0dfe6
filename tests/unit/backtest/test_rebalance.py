"""Rebalance frequency (which bars are decision bars) and drift tolerance (which held
positions are resized there)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from backtest import (
    FillPrice,
    Frequency,
    Operator,
    PriceField,
    Rebalance,
    RebalanceFrequency,
    Rule,
    Sizing,
    run_backtest_sync,
)
from backtest.schedule import decision_mask, periods_per_year
from tests.unit.backtest.helpers import bars, flat_bars, long_when, random_bars, strategy, values


def micros(moments: list[datetime]) -> np.ndarray:
    return np.array([int(m.timestamp() * 1e6) for m in moments], dtype=np.int64)


def days(*dates: str) -> np.ndarray:
    return micros([datetime.fromisoformat(d).replace(tzinfo=UTC) for d in dates])


def test_every_bar_decides_on_every_bar() -> None:
    times = days("2024-01-01", "2024-01-02", "2024-01-03")
    assert decision_mask(times, RebalanceFrequency.EVERY_BAR, "UTC").tolist() == [True] * 3


def test_weekly_and_monthly_decide_on_the_last_bar_of_each_period() -> None:
    times = days(
        "2024-01-26", "2024-01-29", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"
    )  # Fri, Mon, Wed, Thu, Fri, Mon
    assert decision_mask(times, RebalanceFrequency.WEEKLY, "UTC").tolist() == [
        True, False, False, False, True, True,
    ]  # fmt: skip
    assert decision_mask(times, RebalanceFrequency.MONTHLY, "UTC").tolist() == [
        False, False, True, False, False, True,
    ]  # fmt: skip


def test_daily_on_minute_bars_decides_at_each_sessions_last_bar_in_the_timezone() -> None:
    # 20:59 and 21:00 UTC on Jan 2 and 14:31 on Jan 3; in New York, 01:30 UTC on Jan 3 is still
    # Jan 2 (20:30 EST).
    times = micros(
        [
            datetime(2024, 1, 2, 20, 59, tzinfo=UTC),
            datetime(2024, 1, 2, 21, 0, tzinfo=UTC),
            datetime(2024, 1, 3, 1, 30, tzinfo=UTC),
            datetime(2024, 1, 3, 14, 31, tzinfo=UTC),
        ]
    )
    assert decision_mask(times, RebalanceFrequency.DAILY, "UTC").tolist() == [
        False, True, False, True,
    ]  # fmt: skip
    assert decision_mask(times, RebalanceFrequency.DAILY, "America/New_York").tolist() == [
        False, False, True, True,
    ]  # fmt: skip


def test_minute_bars_annualize_with_the_observed_bars_per_session() -> None:
    config = strategy(["AAA"], long_when(Rule.signal(Operator.GT, 0)), frequency=Frequency.MINUTE)
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    times = micros([start + timedelta(minutes=i) for i in range(390)] + [start + timedelta(days=1)])
    assert periods_per_year(config, times) == pytest.approx(252 * 391 / 2)
    daily = strategy(["AAA"], long_when(Rule.signal(Operator.GT, 0)))
    assert periods_per_year(daily, times) == 252


def test_weekly_rebalancing_trades_only_after_week_ends() -> None:
    table = random_bars(["AAA"], 21, seed=2)  # Monday 2024-01-01 to Sunday 2024-01-21
    scores = values({"AAA": [1.0 if (i // 2) % 2 else -1.0 for i in range(21)]}, "score")
    config = strategy(
        ["AAA"],
        long_when(Rule.signal(Operator.GT, 0.0)),
        fill=FillPrice.CLOSE,
        signal_model="m",
        rebalance=Rebalance(RebalanceFrequency.WEEKLY, drift_tolerance=None),
    )
    result = run_backtest_sync(config, table, signals=scores)
    traded = {t.isoweekday() for t in result.trades.to_table().column("time").to_pylist()}
    assert traded == {7}  # Sundays: the last bar of each week
    assert len(result.trades) == 2  # long at the end of week 1 (score 1 on Sunday), then out


def test_drift_tolerance_decides_which_held_positions_are_resized() -> None:
    closes = [10.0, 12.0, 14.0, 16.0]
    table = flat_bars({"AAA": closes})
    rules = long_when(Rule.price(PriceField.CLOSE, Operator.GT, 0.0))

    def shares(tolerance: float | None) -> list[float]:
        config = strategy(
            ["AAA"],
            rules,
            sizing=Sizing(weight=0.5, whole_shares=False),
            rebalance=Rebalance(drift_tolerance=tolerance),
            fill=FillPrice.CLOSE,
        )
        return run_backtest_sync(config, table).positions[:, 0].tolist()

    assert shares(None) == pytest.approx([50.0] * 4)  # held: never resized
    held = shares(0.0)  # resized to 50 % at every close
    equity = [1000.0]
    for previous, price in itertools.pairwise(closes):
        equity.append(equity[-1] + 0.5 * equity[-1] / previous * (price - previous))
    assert held == pytest.approx([0.5 * e / c for e, c in zip(equity, closes, strict=True)])
    # 0.1 tolerance: weights 600/1100 = 0.545 and 700/1200 = 0.583 are within it of 0.5;
    # 800/1300 = 0.615 is not: resized to 0.5 * 1300 / 16 shares.
    assert shares(0.1) == pytest.approx([50.0, 50.0, 50.0, 0.5 * 1300 / 16])


def test_an_entry_waits_for_the_next_decision_bar_after_a_missing_bar() -> None:
    table = bars({"AAA": [(10, 10), (10, 10), (10, 10)], "BBB": [(5, 5)] * 3})
    gap = table.slice(1)  # AAA has no bar on day 0
    scores = values({"AAA": [1.0] * 3, "BBB": [0.0] * 3}, "score")
    config = strategy(
        ["AAA", "BBB"],
        long_when(Rule.signal(Operator.GT, 0.5)),
        fill=FillPrice.CLOSE,
        signal_model="m",
    )
    result = run_backtest_sync(config, gap, signals=scores)
    assert result.positions[:, 0].tolist() == [0, 50, 50]


def test_minute_bars_with_daily_rebalancing_trade_at_each_sessions_close() -> None:
    session = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    closes = [100.0 + 0.01 * i for i in range(390)]
    first = flat_bars({"SPY": closes}, start=session, step=timedelta(minutes=1))
    second = flat_bars(
        {"SPY": closes[::-1]}, start=session + timedelta(days=1), step=timedelta(minutes=1)
    )
    minute_bars = pa.concat_tables([first, second])
    config = strategy(
        ["SPY"],
        long_when(Rule.price(PriceField.RETURN, Operator.GT, 0.0, window=30)),
        frequency=Frequency.MINUTE,
        fill=FillPrice.CLOSE,
        rebalance=Rebalance(RebalanceFrequency.DAILY, drift_tolerance=None),
    )
    result = run_backtest_sync(config, minute_bars)
    trades = result.trades.to_table().to_pylist()
    assert [(t["side"], t["time"].hour, t["time"].minute) for t in trades] == [
        ("BUY", 20, 59),  # rising into the first close
        ("SELL", 20, 59),  # falling into the second
    ]
    assert result.kpis.periods_per_year == 252 * 390
