"""Sizing modes and limits: target weights are signed fractions of equity; limits cap each
position, then the gross, then the net; new positions are fitted to the book they join."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from backtest import (
    FillPrice,
    Limits,
    MarketInputs,
    Operator,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    SizingMethod,
    StrategyConfig,
    build_market,
    run_backtest_sync,
)
from backtest.rules import RuleContext, desired_sides
from backtest.sizing import apply_limits, fit_to_book, target_weights
from tests.unit.backtest.helpers import flat_bars, long_when, random_bars, strategy, values

ALWAYS = Rule.signal(Operator.GT, 0.0)


def weights_of(config: StrategyConfig, bars: pa.Table, **tables: pa.Table) -> np.ndarray:
    market = build_market(config, MarketInputs(bars, **tables))
    context = RuleContext(market, 252.0)
    wanted = desired_sides(config.rules, context, 0)
    return target_weights(config.sizing, config.limits, wanted, context)


def test_equal_weight_gives_each_position_the_weight_or_an_equal_share_of_the_gross() -> None:
    bars = flat_bars({"A": [10] * 2, "B": [10] * 2, "C": [10] * 2})
    scores = values({"A": [1, 1], "B": [1, -1], "C": [-1, -1]}, "score")
    rules = Rules(
        long_entry=RuleGroup.of(ALWAYS),
        short_entry=RuleGroup.of(Rule.signal(Operator.LT, -0.5)),
    )
    fixed = strategy(["A", "B", "C"], rules, weight=0.2, signal_model="m")
    assert weights_of(fixed, bars, signals=scores).tolist() == [[0.2, 0.2, -0.2], [0.2, -0.2, -0.2]]
    shared = strategy(["A", "B", "C"], rules, sizing=Sizing(gross_target=0.9), signal_model="m")
    assert weights_of(shared, bars, signals=scores) == pytest.approx(
        np.full((2, 3), 0.3) * [[1, 1, -1], [1, -1, -1]]
    )


def test_volatility_target_sizes_inversely_to_each_symbols_volatility() -> None:
    bars = random_bars(["A", "B"], 60, seed=3)
    sizing = Sizing(SizingMethod.VOLATILITY_TARGET, target_volatility=0.1, volatility_window=20)
    config = strategy(
        ["A", "B"],
        long_when(ALWAYS),
        sizing=sizing,
        signal_model="m",
        limits=Limits(max_position_weight=1, gross_leverage=1, net_leverage=1),
    )
    scores = values({"A": [1.0] * 60, "B": [1.0] * 60}, "score")
    weights = weights_of(config, bars, signals=scores)
    assert weights[:20].tolist() == [[0.0, 0.0]] * 20  # not enough history yet
    frame = bars.to_pandas()
    for j, symbol in enumerate("AB"):
        closes = frame.loc[frame["symbol"] == symbol, "close"].to_numpy()[-21:]
        returns = np.diff(closes) / closes[:-1]
        vol = np.std(returns, ddof=1) * math.sqrt(252)
        expected = 0.1 / (2 * vol)
        assert weights[-1, j] == pytest.approx(min(expected, 1.0), rel=1e-9)


def test_signal_proportional_spreads_the_gross_target_by_score_magnitude() -> None:
    bars = flat_bars({"A": [10], "B": [10], "C": [10]})
    scores = values({"A": [1.0], "B": [3.0], "C": [-2.0]}, "score")
    rules = Rules(
        long_entry=RuleGroup.of(ALWAYS),
        short_entry=RuleGroup.of(Rule.signal(Operator.LT, 0.0)),
    )
    config = strategy(
        ["A", "B", "C"],
        rules,
        sizing=Sizing(SizingMethod.SIGNAL_PROPORTIONAL, gross_target=1.2),
        limits=Limits(max_position_weight=1, gross_leverage=2, net_leverage=1),
        signal_model="m",
    )
    assert weights_of(config, bars, signals=scores)[0] == pytest.approx([0.2, 0.6, -0.4])


def test_limits_cap_positions_then_gross_then_net() -> None:
    limits = Limits(max_position_weight=0.4, gross_leverage=1.0, net_leverage=0.2)
    weights = np.array([[0.5, 0.3, -0.1], [0.3, 0.3, 0.3], [0.1, -0.05, 0.0]])
    capped = apply_limits(weights, limits)
    # Row 0: 0.5 -> 0.4; gross 0.8 fits; net 0.6 > 0.2: longs scaled to 0.3 in total.
    assert capped[0] == pytest.approx([0.4 * 0.3 / 0.7, 0.3 * 0.3 / 0.7, -0.1])
    # Row 1: gross 0.9 fits; net 0.9 -> 0.2.
    assert capped[1] == pytest.approx([0.2 / 3] * 3)
    # Row 2 is within every limit: unchanged, bit for bit.
    assert capped[2].tolist() == [0.1, -0.05, 0.0]


def test_new_positions_are_fitted_to_the_room_the_book_leaves() -> None:
    gross_only = Limits(max_position_weight=1, gross_leverage=1.0, net_leverage=1.0)
    assert fit_to_book([0.2, -0.2], 0.3, -0.1, gross_only) == [0.2, -0.2]  # fits: unchanged
    assert fit_to_book([0.4], 0.7, -0.1, gross_only) == pytest.approx([0.2])  # room 0.2
    assert fit_to_book([0.3, -0.1], 0.6, 0.0, gross_only) == pytest.approx([0.3, -0.1])
    assert fit_to_book([0.4, 0.4], 1.0, 0.0, gross_only) == [0.0, 0.0]  # no room left
    net = Limits(max_position_weight=1, gross_leverage=1.0, net_leverage=0.5)
    assert fit_to_book([0.3], 0.4, 0.0, net) == pytest.approx([0.1])  # net room 0.1
    assert fit_to_book([0.3, -0.2], 0.4, 0.0, net) == pytest.approx([0.3, -0.2])


def test_leverage_limits_hold_at_every_close_when_rebalancing() -> None:
    bars = random_bars(["A", "B", "C", "D"], 120, seed=5)
    scores = values(
        {s: np.sin(np.arange(120) / (3 + i)).tolist() for i, s in enumerate("ABCD")}, "score"
    )
    limits = Limits(max_position_weight=0.4, gross_leverage=1.5, net_leverage=0.5)
    config = strategy(
        list("ABCD"),
        Rules(
            long_entry=RuleGroup.of(Rule.signal(Operator.GT, 0.0)),
            short_entry=RuleGroup.of(Rule.signal(Operator.LT, 0.0)),
        ),
        sizing=Sizing(weight=0.4, whole_shares=False),
        rebalance=Rebalance(drift_tolerance=0.0),
        limits=limits,
        fill=FillPrice.CLOSE,
        signal_model="m",
        initial_cash=1e6,
    )
    result = run_backtest_sync(config, bars, signals=scores)
    curve = result.equity
    assert curve.gross_exposure.max() == pytest.approx(1.5)  # the limit binds ...
    assert np.all(curve.gross_exposure <= 1.5 + 1e-9)  # ... and holds
    assert np.all(np.abs(curve.net_exposure) <= 0.5 + 1e-9)
    weights = result.position_values / curve.equity[:, None]
    assert np.all(np.abs(weights) <= 0.4 + 1e-9)


def test_entries_never_take_the_book_past_the_gross_limit() -> None:
    # Flat prices: no drift, so the only way past the limit would be sizing.
    bars = flat_bars({s: [10.0] * 4 for s in "ABC"})
    scores = values({"A": [1, 1, 1, 1], "B": [0, 1, 1, 1], "C": [0, 0, 1, 1]}, "score")
    config = strategy(
        list("ABC"),
        long_when(Rule.signal(Operator.GT, 0.5)),
        weight=0.4,
        fill=FillPrice.CLOSE,
        signal_model="m",
    )
    result = run_backtest_sync(config, bars, signals=scores)
    assert result.positions.tolist() == [[40, 0, 0], [40, 40, 0], [40, 40, 20], [40, 40, 20]]
    assert result.equity.gross_exposure.tolist() == pytest.approx([0.4, 0.8, 1.0, 1.0])
