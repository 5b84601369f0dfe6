"""The engine against backtrader on real data: the SMA-crossover equity curves agree to 1e-6
(relative) on every bar.

Shared conventions (see backtest/peers/backtrader_sma.py): decisions at each close on the
SMA(10) - SMA(30) crossing zero; whole shares sized with order_target_percent semantics (value
difference // close, at that close's portfolio value), 25 % of equity per position so the
broker never refuses an order for cash; fills at the next open (cheat-on-open off) or at the
close (cheat-on-close); commission |qty| * price * bps / 1e4 + |qty| * per_share; slippage a
percentage of the price, against the order.

Three Dow stocks, 2011 to 2015 (1,258 sessions).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from backtest import BacktestResult, Costs, FillPrice, run_backtest_sync, sma_crossover
from backtest.peers.backtrader_sma import PeerRun, run_backtrader_sma
from services.marketdata.domain.csv_formats import parse_csv
from tests.conftest import require_shared_data

SYMBOLS = ("AAPL", "JPM", "XOM")
FAST, SLOW, WEIGHT = 10, 30, 0.25
COSTS = Costs(commission_bps=10, commission_per_share=0.005, slippage_bps=5)
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    folder = require_shared_data() / "daily" / "dow30"
    table = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    time = table.column("time")
    keep = pc.and_(
        pc.greater_equal(time, pa.scalar(datetime(2011, 1, 1, tzinfo=UTC))),
        pc.less(time, pa.scalar(datetime(2016, 1, 1, tzinfo=UTC))),
    )
    return table.filter(keep)


def both(
    bars: pa.Table, fill: FillPrice, costs: Costs, allow_short: bool
) -> tuple[BacktestResult, PeerRun]:
    config = sma_crossover(
        SYMBOLS, FAST, SLOW, weight=WEIGHT, costs=costs, fill=fill, allow_short=allow_short
    )
    ours = run_backtest_sync(config, bars)
    peer = run_backtrader_sma(
        bars,
        SYMBOLS,
        fast=FAST,
        slow=SLOW,
        weight=WEIGHT,
        costs=costs,
        fill=fill,
        allow_short=allow_short,
    )
    assert np.array_equal(ours.equity.times, peer.times)
    return ours, peer


@pytest.mark.parametrize("allow_short", [False, True], ids=["long-flat", "long-short"])
def test_equity_matches_backtrader_on_every_bar_with_next_open_fills(
    bars: pa.Table, allow_short: bool
) -> None:
    ours, peer = both(bars, FillPrice.NEXT_OPEN, COSTS, allow_short)
    assert len(ours.trades) > 100
    # Every order backtrader placed filled (none refused, none left on the last bar).
    assert len(ours.trades) == peer.orders
    relative = np.abs(ours.equity.equity / peer.equity - 1)
    assert relative.max() <= TOLERANCE, f"bar {relative.argmax()}: {relative.max():.2e}"


def test_equity_matches_backtrader_on_every_bar_with_fills_at_the_close(bars: pa.Table) -> None:
    ours, peer = both(bars, FillPrice.CLOSE, Costs(), allow_short=True)
    relative = np.abs(ours.equity.equity / peer.equity - 1)
    assert relative.max() <= TOLERANCE, f"bar {relative.argmax()}: {relative.max():.2e}"


def test_at_the_close_backtrader_books_the_commission_one_bar_later(bars: pa.Table) -> None:
    costs = Costs(commission_bps=10, commission_per_share=0.005)
    ours, peer = both(bars, FillPrice.CLOSE, costs, allow_short=False)
    # Its broker executes a cheat-on-close order while processing the next bar, so the value it
    # reports for the decision bar does not yet carry that order's commission.
    booked = np.zeros(ours.equity.times.size)
    np.add.at(booked, np.searchsorted(ours.equity.times, ours.trades.times), ours.trades.commission)
    relative = np.abs((ours.equity.equity + booked) / peer.equity - 1)
    assert relative.max() <= TOLERANCE, f"bar {relative.argmax()}: {relative.max():.2e}"
