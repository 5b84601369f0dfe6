"""Rules over signals, regimes, features and prices, and the sides they give.

A rule is evaluated for every universe symbol and bar; entry and exit groups drive a long and a
short latch per symbol (see `backtest.config.Rules`). Values stamped at time t are used from the
bar at t on, never earlier.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from backtest import (
    Combine,
    FillPrice,
    MarketInputs,
    Operator,
    PriceField,
    Rule,
    RuleGroup,
    Rules,
    build_market,
    run_backtest_sync,
)
from backtest.config import StrategyConfig
from backtest.rules import RuleContext, desired_sides
from tests.unit.backtest.helpers import (
    START,
    close_above,
    flat_bars,
    long_when,
    strategy,
    values,
)


def sides(config: StrategyConfig, bars: pa.Table, **tables: pa.Table) -> dict[str, list[int]]:
    """The side wanted per symbol and bar."""
    market = build_market(config, MarketInputs(bars, **tables))
    wanted = desired_sides(config.rules, RuleContext(market, 252.0), market.start_row)
    return {s: wanted[:, j].tolist() for j, s in enumerate(config.universe)}


FLAT6 = flat_bars({"AAA": [10] * 6, "BBB": [10] * 6})


def test_signal_rules_compare_each_symbols_score() -> None:
    scores = values({"AAA": [0.1, 0.6, 0.7, 0.2, 0.9, 0.4], "BBB": [0.9] * 6}, "score")
    config = strategy(["AAA", "BBB"], long_when(Rule.signal(Operator.GT, 0.5)), signal_model="m")
    assert sides(config, FLAT6, signals=scores) == {
        "AAA": [0, 1, 1, 0, 1, 0],
        "BBB": [1] * 6,
    }


def test_signal_rank_is_the_cross_sectional_percentile() -> None:
    bars = flat_bars({"A": [10] * 2, "B": [10] * 2, "C": [10] * 2})
    scores = values({"A": [1.0, 3.0], "B": [2.0, 2.0], "C": [3.0, 1.0]}, "score")
    config = strategy(
        ["A", "B", "C"],
        long_when(Rule.signal(Operator.GE, 0.5, field="rank")),
        signal_model="m",
    )
    assert sides(config, bars, signals=scores) == {"A": [0, 1], "B": [1, 1], "C": [1, 0]}


def test_regime_rules_match_labels_and_can_filter_on_a_market_symbol() -> None:
    bars = flat_bars({"AAA": [10] * 4, "BBB": [10] * 4, "SPY": [100] * 4})
    labels = values(
        {
            "AAA": ["CALM_UPTREND", "DOWNTREND", "CALM_UPTREND", "RANGE_BOUND"],
            "BBB": ["DOWNTREND"] * 4,
            "SPY": ["CALM_UPTREND", "CALM_UPTREND", "HIGH_VOL_STRESS", "CALM_UPTREND"],
        },
        "regime",
    )
    own = strategy(["AAA", "BBB"], long_when(Rule.regime_in("CALM_UPTREND")), regime_model="r")
    assert sides(own, bars, regimes=labels) == {"AAA": [1, 0, 1, 0], "BBB": [0, 0, 0, 0]}
    market = strategy(
        ["AAA", "BBB"],
        long_when(Rule.regime_in("CALM_UPTREND", "RANGE_BOUND", symbol="SPY")),
        regime_model="r",
    )
    assert sides(market, bars, regimes=labels) == {"AAA": [1, 1, 0, 1], "BBB": [1, 1, 0, 1]}


def test_feature_rules_read_the_named_feature() -> None:
    features = values({"AAA": [0.5, -0.2, -0.1, 0.3, 0.0, -1.0], "BBB": [1.0] * 6}, "mom")
    config = strategy(
        ["AAA", "BBB"],
        Rules(short_entry=RuleGroup.of(Rule.feature("mom", Operator.LT, 0.0))),
        feature_view="v",
    )
    assert sides(config, FLAT6, features=features) == {
        "AAA": [0, -1, -1, 0, 0, -1],
        "BBB": [0] * 6,
    }


def test_values_apply_from_their_time_on_never_before() -> None:
    bars = flat_bars({"AAA": [10] * 4})
    noon = START + timedelta(days=1, hours=12)  # between the bars of day 1 and day 2
    scores = pa.table({"symbol": ["AAA"], "time": [noon], "score": [1.0]})
    config = strategy(["AAA"], long_when(Rule.signal(Operator.GT, 0.5)), signal_model="m")
    assert sides(config, bars, signals=scores) == {"AAA": [0, 0, 1, 1]}


def test_an_sma_crossing_enters_once_and_a_level_rule_holds_while_true() -> None:
    closes = [10, 10, 10, 9, 9, 12, 12, 12, 8, 8]
    bars = flat_bars({"AAA": closes})
    # SMA(1) - SMA(2) = (close - previous close) / 2: it rises through 0 on day 5 and falls
    # through 0 on day 8; in between it is 0 (the average has caught up).
    crossing = Rules(
        long_entry=RuleGroup.of(Rule.sma_cross(1, 2, Operator.CROSSES_ABOVE)),
        long_exit=RuleGroup.of(Rule.sma_cross(1, 2, Operator.CROSSES_BELOW)),
    )
    assert sides(strategy(["AAA"], crossing), bars)["AAA"] == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    level = long_when(Rule.sma_cross(1, 2, Operator.GT))  # no exit group: out when it fails
    assert sides(strategy(["AAA"], level), bars)["AAA"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_exits_beat_entries_an_entry_flips_and_opposite_entries_stay_flat() -> None:
    bars = flat_bars({"AAA": [5, 15, 25, 15, 5, 15]})
    rules = Rules(
        long_entry=RuleGroup.of(close_above(10)),
        long_exit=RuleGroup.of(close_above(20)),  # holds together with the entry on day 2
        short_entry=RuleGroup.of(Rule.price(PriceField.CLOSE, Operator.LT, 8)),
        short_exit=RuleGroup.of(close_above(12)),
    )
    # day 0: short (5 < 8); day 1: long entry flips; day 2: exit beats entry; day 3: entry;
    # day 4: short entry flips; day 5: short exit and long entry: long.
    assert sides(strategy(["AAA"], rules), bars)["AAA"] == [-1, 1, 0, 1, -1, 1]
    both = Rules(
        long_entry=RuleGroup.of(close_above(10)),
        short_entry=RuleGroup.of(Rule.price(PriceField.CLOSE, Operator.LT, 20)),
    )
    assert sides(strategy(["AAA"], both), bars)["AAA"] == [-1, 0, 1, 0, -1, 0]


def test_groups_combine_with_all_or_any() -> None:
    bars = flat_bars({"AAA": [5, 15, 25, 35]})
    high, low = close_above(10), Rule.price(PriceField.CLOSE, Operator.LT, 30)
    every = Rules(long_entry=RuleGroup.of(high, low))
    some = Rules(long_entry=RuleGroup.of(high, low, combine=Combine.ANY))
    assert sides(strategy(["AAA"], every), bars)["AAA"] == [0, 1, 1, 0]
    assert sides(strategy(["AAA"], some), bars)["AAA"] == [1, 1, 1, 1]


def test_price_fields_are_causal_and_wait_for_their_window() -> None:
    bars = flat_bars({"AAA": [10, 11, 12, 9, 10]})
    rising = long_when(Rule.price(PriceField.RETURN, Operator.GT, 0.0, window=2))
    assert sides(strategy(["AAA"], rising), bars)["AAA"] == [0, 0, 1, 0, 0]


def test_nothing_is_wanted_before_the_start() -> None:
    bars = flat_bars({"AAA": [15] * 5})
    config = strategy(["AAA"], long_when(close_above(10)), start=START + timedelta(days=2))
    assert sides(config, bars)["AAA"] == [0, 0, 1, 1, 1]


def test_a_rule_on_a_fixed_symbol_gates_every_member_in_a_run() -> None:
    bars = flat_bars({"AAA": [10] * 4, "BBB": [20] * 4, "SPY": [100, 110, 90, 95]})
    config = strategy(
        ["AAA", "BBB"],
        long_when(Rule.price(PriceField.CLOSE, Operator.GT, 100, symbol="SPY")),
        weight=0.25,
        fill=FillPrice.CLOSE,
    )
    result = run_backtest_sync(config, bars)
    assert result.positions.tolist() == [[0, 0], [25, 12], [0, 0], [0, 0]]
