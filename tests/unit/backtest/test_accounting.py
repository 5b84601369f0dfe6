"""Cash, positions, fills and fees, by hand: one symbol, six days, long or short on `close > 11`.

Prices (open, close): (10, 10) (11, 12) (12, 13) (14, 12) (11, 10) (9, 9). The rule holds at
the closes of days 1 to 3. Sizing: 50 % of equity in whole shares, initial cash 1000; costs:
10 bps of value plus 0.01 per share.
"""

from __future__ import annotations

import pytest

from backtest import Costs, FillPrice, run_backtest_sync
from tests.unit.backtest.helpers import bars, close_above, long_when, short_when, strategy

PRICES = {"AAA": [(10, 10), (11, 12), (12, 13), (14, 12), (11, 10), (9, 9)]}
COSTS = Costs(commission_bps=10, commission_per_share=0.01)


def test_a_long_round_trip_filled_at_the_next_open_is_accounted_to_the_cent() -> None:
    result = run_backtest_sync(
        strategy(["AAA"], long_when(close_above(11)), costs=COSTS), bars(PRICES)
    )
    # Day 1 close 12: target 0.5 * 1000 = 500 -> 500 // 12 = 41 shares, bought at day 2's open
    # (12): 492 + commission 41 * 12 * 0.001 + 41 * 0.01 = 0.902 -> cash 507.098.
    # Day 4 close 10 <= 11: sold at day 5's open (9): 369 - (0.369 + 0.41) -> cash 875.319.
    assert result.equity.cash.tolist() == pytest.approx(
        [1000, 1000, 507.098, 507.098, 507.098, 875.319]
    )
    assert result.equity.equity.tolist() == pytest.approx(
        [1000, 1000, 507.098 + 41 * 13, 507.098 + 41 * 12, 507.098 + 41 * 10, 875.319]
    )
    trades = result.trades.to_table().to_pylist()
    assert [(t["side"], t["quantity"], t["price"]) for t in trades] == [
        ("BUY", 41, 12),
        ("SELL", 41, 9),
    ]
    assert [t["commission"] for t in trades] == pytest.approx([0.902, 0.779])
    assert [t["time"].day for t in trades] == [3, 6]  # fill days (day 2 and day 5)
    assert [t["decision_time"].day for t in trades] == [2, 5]
    assert result.positions[:, 0].tolist() == [0, 0, 41, 41, 41, 0]
    assert result.kpis.commission == pytest.approx(0.902 + 0.779)
    assert result.kpis.final_equity == pytest.approx(875.319)


def test_filling_at_the_close_trades_on_the_decision_bar() -> None:
    config = strategy(["AAA"], long_when(close_above(11)), costs=COSTS, fill=FillPrice.CLOSE)
    result = run_backtest_sync(config, bars(PRICES))
    # Bought 41 at day 1's close (12), sold at day 4's close (10): 410 - (0.41 + 0.41).
    assert result.equity.cash.tolist() == pytest.approx(
        [1000, 507.098, 507.098, 507.098, 916.278, 916.278]
    )
    assert result.equity.equity[1] == pytest.approx(1000 - 0.902)  # only the commission is lost
    assert [t.day for t in result.trades.to_table().column("time").to_pylist()] == [2, 5]


def test_a_short_receives_the_sale_and_pays_to_cover() -> None:
    config = strategy(["AAA"], short_when(close_above(11)), costs=COSTS)
    result = run_backtest_sync(config, bars(PRICES))
    # Sold short 41 at 12: cash 1000 + 492 - 0.902; covered at 9: - 369 - 0.779.
    assert result.equity.cash.tolist() == pytest.approx(
        [1000, 1000, 1491.098, 1491.098, 1491.098, 1121.319]
    )
    assert result.equity.equity.tolist() == pytest.approx(
        [1000, 1000, 1491.098 - 41 * 13, 1491.098 - 41 * 12, 1491.098 - 41 * 10, 1121.319]
    )
    assert result.positions[:, 0].tolist() == [0, 0, -41, -41, -41, 0]
    assert result.equity.net_exposure[2] == pytest.approx(-41 * 13 / (1491.098 - 41 * 13))
    assert result.equity.gross_exposure[2] == pytest.approx(41 * 13 / (1491.098 - 41 * 13))
    assert [t["side"] for t in result.trades.to_table().to_pylist()] == ["SELL", "BUY"]


def test_slippage_moves_the_fill_price_against_the_order_and_is_reported_as_a_cost() -> None:
    costs = Costs(commission_bps=10, commission_per_share=0.01, slippage_bps=100)
    result = run_backtest_sync(
        strategy(["AAA"], long_when(close_above(11)), costs=costs), bars(PRICES)
    )
    buy, sell = result.trades.to_table().to_pylist()
    assert buy["quantity"] == 41  # sized at the decision close, before slippage
    assert buy["price"] == pytest.approx(12 * 1.01)
    assert buy["commission"] == pytest.approx(41 * 12.12 * 0.001 + 41 * 0.01)
    assert buy["slippage"] == pytest.approx(41 * 0.12)
    assert sell["price"] == pytest.approx(9 * 0.99)
    assert sell["slippage"] == pytest.approx(41 * 0.09)
    assert result.kpis.slippage == pytest.approx(41 * 0.12 + 41 * 0.09)
    assert result.equity.cash[-1] == pytest.approx(
        1000 - 41 * 12.12 - buy["commission"] + 41 * 8.91 - sell["commission"]
    )


def test_fractional_shares_invest_the_exact_target() -> None:
    config = strategy(["AAA"], long_when(close_above(11)), whole_shares=False, fill=FillPrice.CLOSE)
    result = run_backtest_sync(config, bars(PRICES))
    assert result.positions[1, 0] == pytest.approx(500 / 12)
    assert result.equity.gross_exposure[1] == pytest.approx(0.5)


def test_an_order_without_a_later_bar_does_not_fill() -> None:
    prices = {"AAA": [(10, 10), (11, 12)]}  # the entry is decided on the last bar
    result = run_backtest_sync(strategy(["AAA"], long_when(close_above(11))), bars(prices))
    assert len(result.trades) == 0
    assert result.equity.equity.tolist() == [1000, 1000]


def test_a_symbol_without_a_bar_on_the_next_row_fills_at_its_own_next_bar() -> None:
    table = bars({"AAA": [(10, 10), (11, 12), (12, 13), (14, 12)], "BBB": [(5, 5)] * 4})
    gap = table.filter(
        ~(
            (table["symbol"].to_numpy(zero_copy_only=False) == "AAA")
            & (table["open"].to_numpy() == 12)
        )
    )
    config = strategy(["AAA", "BBB"], long_when(close_above(11)), weight=0.5)
    result = run_backtest_sync(config, gap)
    (trade,) = result.trades.to_table().to_pylist()
    assert trade["symbol"] == "AAA" and trade["price"] == 14 and trade["time"].day == 4
    # Decided at day 1's close (12): 41 shares, bought at AAA's next open (day 3, 14).
    assert result.equity.equity.tolist() == pytest.approx([1000, 1000, 1000, 1000 - 41 * 2])
