"""KPIs against values computed by hand (definitions in `backtest.kpis`)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from backtest import FillPrice, Operator, Rule, run_backtest_sync
from backtest.accounting import round_trips
from backtest.kpis import (
    annualized_return,
    bar_returns,
    beta_alpha,
    max_drawdown,
    per_bar_rate,
    sharpe,
    sortino,
    volatility,
)
from backtest.simulator import Fills
from tests.unit.backtest.helpers import START, flat_bars, long_when, strategy, values

EQUITY = np.array([1100.0, 990.0, 1089.0])  # +10 %, -10 %, +10 % from 1000
RETURNS = np.array([0.1, -0.1, 0.1])
ROOT = math.sqrt(252)


def day(n: int) -> int:
    return int(datetime(2024, 1, n, tzinfo=UTC).timestamp() * 1e6)


def test_returns_are_per_bar_the_first_against_the_initial_cash() -> None:
    assert bar_returns(EQUITY, 1000.0) == pytest.approx(RETURNS)


def test_annualized_return_compounds_by_bars_per_year() -> None:
    assert annualized_return(0.089, 3, 252) == pytest.approx(1.089**84 - 1)
    assert annualized_return(0.21, 504, 252) == pytest.approx(0.1)
    assert annualized_return(-1.0, 10, 252) == -1.0


def test_volatility_sharpe_and_sortino() -> None:
    # mean 1/30; deviations 1/15, -2/15, 1/15: sample variance (6/225) / 2 = 1/75.
    sd = math.sqrt(1 / 75)
    assert volatility(RETURNS, 252) == pytest.approx(sd * ROOT)
    assert sharpe(RETURNS, 252) == pytest.approx((1 / 30) / sd * ROOT)
    # downside deviation: sqrt((0 + 0.01 + 0) / 3)
    assert sortino(RETURNS, 252) == pytest.approx((1 / 30) / math.sqrt(0.01 / 3) * ROOT)
    rf = per_bar_rate(0.05, 252)
    assert (1 + rf) ** 252 == pytest.approx(1.05)
    assert sharpe(RETURNS, 252, rf) == pytest.approx((1 / 30 - rf) / sd * ROOT)
    assert sharpe(np.array([0.01, 0.01]), 252) is None  # no variance
    assert sortino(np.array([0.01, 0.02]), 252) is None  # no downside


def test_max_drawdown_with_its_dates() -> None:
    times = np.array([day(1), day(2), day(3), day(4), day(5)])
    equity = np.array([1100.0, 990.0, 1089.0, 1200.0, 1150.0])
    drawdown = max_drawdown(equity, times, 1000.0)
    assert drawdown.depth == pytest.approx(0.1)
    assert (drawdown.start, drawdown.trough, drawdown.recovery) == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 4, tzinfo=UTC),
    )
    under_water = max_drawdown(np.array([950.0, 900.0, 990.0]), times[:3], 1000.0)
    assert under_water.depth == pytest.approx(0.1)  # from the initial cash
    assert under_water.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert under_water.recovery is None
    assert max_drawdown(np.array([1000.0, 1010.0]), times[:2], 1000.0).depth == 0


def test_beta_and_alpha_against_the_benchmark() -> None:
    benchmark = np.array([0.01, -0.02, 0.015, 0.005])
    beta, alpha = beta_alpha(2 * benchmark + 0.001, benchmark, 252)
    assert beta == pytest.approx(2.0)
    assert alpha == pytest.approx(0.001 * 252)
    assert beta_alpha(benchmark, np.zeros(4), 252) == (None, None)  # a flat benchmark


def test_round_trips_split_flips_and_count_closed_trades_only() -> None:
    # buy 10 @ 10, sell 10 @ 12 (fees 1 each): +18; buy 5 @ 10 (fee 1), sell 10 @ 9 (fee 2:
    # half closes, half opens a short), buy 5 @ 8 (fee 1): -5 - 1 - 1 = -7, then +5 - 1 - 1
    # = +3; an open position (buy 3 @ 10) is not counted.
    fills = Fills(
        order_bar=np.arange(6),
        bar=np.arange(6),
        symbol=np.array([0, 0, 0, 0, 0, 1]),
        quantity=np.array([10.0, -10.0, 5.0, -10.0, 5.0, 3.0]),
        price=np.array([10.0, 12.0, 10.0, 9.0, 8.0, 10.0]),
        commission=np.array([1.0, 1.0, 1.0, 2.0, 1.0, 0.0]),
        slippage=np.zeros(6),
    )
    trips = round_trips(fills)
    assert trips.pnl.tolist() == pytest.approx([18.0, -7.0, 3.0])
    assert trips.open_positions == 1


def test_a_run_reports_its_kpis() -> None:
    # Long from day 0's close at 10 to day 3's close at 12.5, 50 shares of 1000 cash.
    closes = [10.0, 11.0, 9.9, 12.5, 12.5]
    bars = flat_bars({"AAA": closes, "IDX": [100.0, 105.0, 99.75, 110.0, 99.0]})
    scores = values({"AAA": [1, 1, 1, 0, 0]}, "score")
    config = strategy(
        ["AAA"],
        long_when(Rule.signal(Operator.GT, 0.5)),
        fill=FillPrice.CLOSE,
        signal_model="m",
        benchmark="IDX",
    )
    kpis = run_backtest_sync(config, bars, signals=scores).kpis
    equity = [1000.0, 1050.0, 995.0, 1125.0, 1125.0]
    assert kpis.total_return == pytest.approx(0.125)
    assert kpis.annualized_return == pytest.approx(1.125 ** (252 / 5) - 1)
    assert kpis.max_drawdown == pytest.approx(1 - 995 / 1050)
    assert kpis.drawdown_start == START.replace(day=2)
    assert kpis.drawdown_trough == START.replace(day=3)
    assert kpis.drawdown_recovery == START.replace(day=4)
    assert kpis.calmar == pytest.approx(kpis.annualized_return / kpis.max_drawdown)
    assert (kpis.closed_trades, kpis.winning_trades, kpis.hit_rate) == (1, 1, 1.0)
    assert kpis.turnover == pytest.approx((500 + 625) / np.mean(equity) / (5 / 252))
    assert kpis.time_in_market == pytest.approx(3 / 5)
    assert kpis.avg_gross_exposure == pytest.approx(np.mean([0.5, 550 / 1050, 495 / 995, 0, 0]))
    assert kpis.positive_periods == pytest.approx(2 / 5)
    returns = bar_returns(np.array(equity), 1000.0)
    index = np.array([100.0, 105.0, 99.75, 110.0, 99.0])
    bench = np.concatenate([[np.nan], index[1:] / index[:-1] - 1])
    beta, alpha = beta_alpha(returns, bench, 252)
    assert (kpis.beta, kpis.alpha) == (pytest.approx(beta), pytest.approx(alpha))
    assert kpis.sharpe == pytest.approx(sharpe(returns, 252))
    assert kpis.bars == 5 and kpis.fills == 2 and kpis.final_equity == pytest.approx(1125.0)
