"""Config validation: every problem is reported with the field that causes it."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from backtest import (
    Combine,
    Costs,
    Limits,
    MemoryBars,
    Operator,
    PriceField,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    RuleSource,
    Sizing,
    SizingMethod,
    Sources,
    StrategyConfig,
    check,
    run_backtest,
    sma_crossover,
    violations,
)
from services.runtime.errors import InvalidArgument

GOOD = sma_crossover(["AAA", "BBB"], 10, 30)


def problems(config: StrategyConfig) -> dict[str, str]:
    return {v.field: v.description for v in violations(config)}


def test_a_good_config_passes() -> None:
    assert violations(GOOD) == []
    check(GOOD)


def test_check_raises_invalid_argument_with_every_violation() -> None:
    config = replace(GOOD, universe=(), costs=Costs(commission_bps=-1))
    with pytest.raises(InvalidArgument) as caught:
        check(config)
    error = caught.value
    assert [v.field for v in error.violations] == ["universe", "costs.commission_bps"]
    assert "universe: must not be empty" in error.message
    assert "costs.commission_bps: must be >= 0" in error.message
    assert error.metadata["field"] == "universe"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"universe": ()}, "universe", "must not be empty"),
        ({"universe": ("AAA", "AAA")}, "universe[1]", "duplicate symbol 'AAA'"),
        ({"universe": ("AAA", " ")}, "universe[1]", "must be a non-empty symbol"),
        ({"initial_cash": 0.0}, "initial_cash", "must be > 0"),
        ({"initial_cash": math.nan}, "initial_cash", "must be a finite number"),
        ({"costs": Costs(commission_bps=-1)}, "costs.commission_bps", "must be >= 0"),
        (
            {"costs": Costs(commission_per_share=math.inf)},
            "costs.commission_per_share",
            "must be a finite number",
        ),
        ({"costs": Costs(slippage_bps=-0.5)}, "costs.slippage_bps", "must be >= 0"),
        (
            {"limits": Limits(gross_leverage=1, net_leverage=2)},
            "limits.net_leverage",
            "cannot exceed gross_leverage",
        ),
        ({"limits": Limits(max_position_weight=0)}, "limits.max_position_weight", "must be > 0"),
        (
            {"limits": Limits(max_position_weight=2, gross_leverage=1)},
            "limits.max_position_weight",
            "cannot exceed gross_leverage",
        ),
        (
            {"sizing": Sizing(weight=0.6), "limits": Limits(max_position_weight=0.5)},
            "sizing.weight",
            "cannot exceed limits.max_position_weight",
        ),
        (
            {"sizing": Sizing(gross_target=2.0)},
            "sizing.gross_target",
            "cannot exceed limits.gross_leverage",
        ),
        (
            {"sizing": Sizing(volatility_window=1)},
            "sizing.volatility_window",
            "must be between 2 and 100000",
        ),
        (
            {"sizing": Sizing(SizingMethod.SIGNAL_PROPORTIONAL)},
            "sizing.method",
            "signal_proportional sizing needs signal_model",
        ),
        (
            {"rebalance": Rebalance(drift_tolerance=-0.1)},
            "rebalance.drift_tolerance",
            "must be >= 0",
        ),
        (
            {"rebalance": Rebalance(timezone="Mars/Olympus")},
            "rebalance.timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {"start": datetime(2020, 1, 1, tzinfo=UTC), "end": datetime(2019, 1, 1, tzinfo=UTC)},
            "end",
            "must be after start",
        ),
        ({"benchmark": ""}, "benchmark", "must be a non-empty string when given"),
        ({"periods_per_year": 0.0}, "periods_per_year", "must be > 0"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str, message: str) -> None:
    assert problems(replace(GOOD, **change)).get(field) == message  # type: ignore[arg-type]


def rules_problems(rules: Rules, **kwargs: object) -> dict[str, str]:
    return problems(replace(GOOD, rules=rules, **kwargs))  # type: ignore[arg-type]


def test_rules_need_an_entry_and_exits_need_their_entry() -> None:
    assert rules_problems(Rules()) == {"rules": "needs long_entry or short_entry"}
    exit_only = Rules(
        short_entry=RuleGroup.of(Rule.sma_cross(5, 20)),
        long_exit=RuleGroup.of(Rule.sma_cross(5, 20, Operator.CROSSES_BELOW)),
    )
    assert rules_problems(exit_only) == {"rules.long_exit": "has no long_entry to exit"}
    assert rules_problems(Rules(long_entry=RuleGroup(()))) == {
        "rules.long_entry.rules": "must not be empty"
    }


def test_rules_name_the_sources_they_need() -> None:
    rules = Rules(
        long_entry=RuleGroup.of(
            Rule.signal(Operator.GT, 0.5),
            Rule.regime_in("CALM_UPTREND"),
            Rule.feature("mom", Operator.GT, 0),
        )
    )
    assert rules_problems(rules) == {
        "rules.long_entry.rules[0].source": "signal rules need signal_model",
        "rules.long_entry.rules[1].source": "regime rules need regime_model",
        "rules.long_entry.rules[2].source": "feature rules need feature_view",
    }
    assert rules_problems(rules, signal_model="m", regime_model="r", feature_view="v") == {}


def test_rule_operands_and_parameters_are_checked() -> None:
    rules = Rules(
        long_entry=RuleGroup.of(
            Rule.sma_cross(30, 10),
            Rule(RuleSource.PRICE, PriceField.CLOSE, Operator.GT, math.nan),
            Rule(RuleSource.PRICE, "vwap", Operator.GT, 1.0),
            Rule(RuleSource.PRICE, PriceField.RETURN, Operator.GT, 0.0, window=0),
            Rule(RuleSource.REGIME, "label", Operator.GT, 1.0),
            Rule(RuleSource.REGIME, "label", Operator.IN),
            Rule(RuleSource.SIGNAL, "score", Operator.GT),
            Rule(RuleSource.SIGNAL, "rank", Operator.GT, 0.5, symbol="SPY"),
        )
    )
    path = "rules.long_entry.rules"
    assert rules_problems(rules, regime_model="r", signal_model="m") == {
        f"{path}[0].fast": "must be less than slow",
        f"{path}[1].value": "must be a finite number",
        f"{path}[2].field": "must be one of close, return, sma_cross, sma_spread, volatility",
        f"{path}[3].window": "must be between 1 and 100000",
        f"{path}[4].op": "regime labels compare with '==' or 'in' only",
        f"{path}[5].values": "must not be empty for 'in'",
        f"{path}[6].value": "is required for '>'",
        f"{path}[7].symbol": "a rank is only defined for universe symbols",
    }


def test_contradictory_rules_are_rejected() -> None:
    above = Rule.signal(Operator.GT, 0.5)
    same = Rules(long_entry=RuleGroup.of(above), long_exit=RuleGroup.of(above))
    assert rules_problems(same, signal_model="m") == {
        "rules.long_exit": "contradicts rules.long_entry: it holds whenever the entry holds"
    }
    looser = Rules(
        long_entry=RuleGroup.of(above), long_exit=RuleGroup.of(Rule.signal(Operator.GT, 0.3))
    )
    assert "rules.long_exit" in rules_problems(looser, signal_model="m")
    any_of = Rules(
        long_entry=RuleGroup.of(above, Rule.regime_in("CALM_UPTREND")),
        long_exit=RuleGroup.of(Rule.regime_in("CALM_UPTREND", "RANGE_BOUND"), combine=Combine.ANY),
    )
    assert "rules.long_exit" in rules_problems(any_of, signal_model="m", regime_model="r")
    both_sides = Rules(long_entry=RuleGroup.of(above), short_entry=RuleGroup.of(above))
    assert rules_problems(both_sides, signal_model="m") == {
        "rules.short_entry": "contradicts rules.long_entry: both can only hold together"
    }
    consistent = Rules(
        long_entry=RuleGroup.of(above), long_exit=RuleGroup.of(Rule.signal(Operator.LT, 0.5))
    )
    assert rules_problems(consistent, signal_model="m") == {}


async def test_the_engine_validates_before_reading_anything() -> None:
    source = MemoryBars(pa.table({"symbol": pa.array([], pa.string())}))
    with pytest.raises(InvalidArgument, match="universe: must not be empty"):
        await run_backtest(replace(GOOD, universe=()), Sources(bars=source))
    assert source.calls == []
