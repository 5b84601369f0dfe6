"""Configs as plain data: a JSON round trip keeps every field; bad data names its path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from backtest import (
    Combine,
    Costs,
    FillPrice,
    Frequency,
    Limits,
    Operator,
    Rebalance,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    SizingMethod,
    StrategyConfig,
    sma_crossover,
)
from backtest.config_codec import config_from_dict, config_to_dict
from services.runtime.errors import InvalidArgument

FULL = StrategyConfig(
    universe=("AAA", "BBB"),
    rules=Rules(
        long_entry=RuleGroup.of(
            Rule.signal(Operator.GT, 0.5, field="rank"),
            Rule.regime_in("CALM_UPTREND", "RANGE_BOUND", symbol="SPY"),
            combine=Combine.ALL,
        ),
        long_exit=RuleGroup.of(Rule.feature("mom", Operator.LT, -0.1)),
        short_entry=RuleGroup.of(Rule.sma_cross(5, 20, Operator.CROSSES_BELOW)),
    ),
    name="mixed",
    frequency=Frequency.MINUTE,
    start=datetime(2020, 1, 1, tzinfo=UTC),
    sizing=Sizing(SizingMethod.VOLATILITY_TARGET, target_volatility=0.15, whole_shares=False),
    rebalance=Rebalance(RebalanceFrequency.WEEKLY, drift_tolerance=None, timezone="Europe/Paris"),
    costs=Costs(1.0, 0.005, 2.0),
    limits=Limits(0.3, 1.5, 0.5),
    fill=FillPrice.CLOSE,
    signal_model="momentum@champion",
    regime_model="hmm",
    feature_view="default",
    benchmark="SPY",
)


@pytest.mark.parametrize("config", [FULL, sma_crossover(["AAA"], 10, 30)])
def test_a_config_survives_a_json_round_trip(config: StrategyConfig) -> None:
    data = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(data) == config


def test_enums_and_times_travel_as_their_values() -> None:
    data = config_to_dict(FULL)
    assert data["fill"] == "close" and data["frequency"] == "1m"
    assert data["start"] == "2020-01-01T00:00:00+00:00"
    assert data["rules"]["short_entry"]["rules"][0]["op"] == "crosses_below"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.pop("universe"), "universe", "is required"),
        (lambda d: d.update(colour="red"), "colour", "unknown field"),
        (lambda d: d.update(fill="tomorrow"), "fill", "must be one of next_open, close"),
        (
            lambda d: d["costs"].update(commission_bps="ten"),
            "costs.commission_bps",
            "must be a number",
        ),
        (
            lambda d: d["rules"]["long_entry"]["rules"][0].update(op="~"),
            "rules.long_entry.rules[0].op",
            "must be one of",
        ),
        (lambda d: d.update(universe="AAA"), "universe", "must be a list"),
        (lambda d: d.update(start="yesterday"), "start", "must be an ISO 8601 time"),
        (
            lambda d: d["sizing"].update(whole_shares=1),
            "sizing.whole_shares",
            "must be true or false",
        ),
    ],
)
def test_bad_data_names_its_path(
    change: Callable[[dict[str, Any]], object], field: str, message: str
) -> None:
    data = config_to_dict(FULL)
    change(data)
    with pytest.raises(InvalidArgument) as caught:
        config_from_dict(data)
    assert caught.value.violations[0].field == field
    assert caught.value.violations[0].description.startswith(message)
