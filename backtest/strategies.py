"""Built-in strategies, as configs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from backtest.config import (
    Costs,
    FillPrice,
    Frequency,
    Limits,
    Operator,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    SizingMethod,
    StrategyConfig,
)


def sma_crossover(
    universe: Sequence[str],
    fast: int = 10,
    slow: int = 30,
    *,
    weight: float | None = None,
    allow_short: bool = False,
    costs: Costs | None = None,
    fill: FillPrice = FillPrice.NEXT_OPEN,
    frequency: Frequency = Frequency.DAILY,
    initial_cash: float = 1_000_000.0,
    **overrides: object,
) -> StrategyConfig:
    """Long when SMA(fast) crosses above SMA(slow), out (or short, with `allow_short`) when it
    crosses below. Each position gets `weight` of equity (default 1 / universe size) in whole
    shares; positions keep their shares until the next crossing."""
    above = RuleGroup.of(Rule.sma_cross(fast, slow, Operator.CROSSES_ABOVE))
    below = RuleGroup.of(Rule.sma_cross(fast, slow, Operator.CROSSES_BELOW))
    rules = Rules(
        long_entry=above,
        long_exit=below,
        short_entry=below if allow_short else None,
        short_exit=above if allow_short else None,
    )
    each = weight if weight is not None else 1.0 / len(universe)
    config = StrategyConfig(
        universe=tuple(universe),
        rules=rules,
        name=f"sma_crossover_{fast}_{slow}",
        frequency=frequency,
        initial_cash=initial_cash,
        sizing=Sizing(SizingMethod.EQUAL_WEIGHT, weight=each, whole_shares=True),
        rebalance=Rebalance(drift_tolerance=None),
        costs=costs or Costs(),
        limits=Limits(max_position_weight=1.0, gross_leverage=1.0, net_leverage=1.0),
        fill=fill,
    )
    return replace(config, **overrides)  # type: ignore[arg-type]
