"""Small markets and strategies for the engine's tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from backtest import (
    Costs,
    FillPrice,
    Limits,
    Operator,
    PriceField,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    StrategyConfig,
)

#: A Monday.
START = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def times(count: int, start: datetime = START, step: timedelta = DAY) -> list[datetime]:
    return [start + i * step for i in range(count)]


def bars(
    prices: Mapping[str, Sequence[tuple[float, float]]],
    start: datetime = START,
    step: timedelta = DAY,
) -> pa.Table:
    """Bars from (open, close) pairs per symbol, one per `step` from `start`."""
    rows: dict[str, list[object]] = {
        k: [] for k in ("symbol", "time", "open", "high", "low", "close", "volume")
    }
    for symbol, pairs in prices.items():
        for when, (o, c) in zip(times(len(pairs), start, step), pairs, strict=True):
            rows["symbol"].append(symbol)
            rows["time"].append(when)
            rows["open"].append(float(o))
            rows["high"].append(float(max(o, c)))
            rows["low"].append(float(min(o, c)))
            rows["close"].append(float(c))
            rows["volume"].append(1000.0)
    return pa.table(rows)


def flat_bars(
    closes: Mapping[str, Sequence[float]], start: datetime = START, step: timedelta = DAY
) -> pa.Table:
    """Bars whose open equals their close."""
    return bars({s: [(c, c) for c in cs] for s, cs in closes.items()}, start, step)


def random_bars(symbols: Sequence[str], days: int, seed: int = 1) -> pa.Table:
    """A seeded random walk per symbol, with overnight gaps."""
    rng = np.random.default_rng(seed)
    prices = {}
    for symbol in symbols:
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, days)))
        open_ = close * np.exp(rng.normal(0, 0.004, days))
        prices[symbol] = list(zip(np.round(open_, 2), np.round(close, 2), strict=True))
    return bars(prices)


def values(
    columns: Mapping[str, Sequence[object]],
    name: str,
    start: datetime = START,
    step: timedelta = DAY,
) -> pa.Table:
    """A (symbol, time, name) table, one value per `step`; None cells are left out."""
    rows: dict[str, list[object]] = {"symbol": [], "time": [], name: []}
    for symbol, column in columns.items():
        for when, value in zip(times(len(column), start, step), column, strict=True):
            if value is not None:
                rows["symbol"].append(symbol)
                rows["time"].append(when)
                rows[name].append(value)
    return pa.table(rows)


def close_above(level: float) -> Rule:
    return Rule.price(PriceField.CLOSE, Operator.GT, level)


def strategy(
    universe: Sequence[str],
    rules: Rules,
    *,
    weight: float | None = 0.5,
    whole_shares: bool = True,
    drift_tolerance: float | None = None,
    sizing: Sizing | None = None,
    rebalance: Rebalance | None = None,
    costs: Costs | None = None,
    limits: Limits | None = None,
    fill: FillPrice = FillPrice.NEXT_OPEN,
    initial_cash: float = 1000.0,
    **fields: Any,
) -> StrategyConfig:
    """A config with test-sized defaults: 1000 cash, 50 % per position in whole shares, held
    until the rules change (drift_tolerance None), no costs."""
    return StrategyConfig(
        universe=tuple(universe),
        rules=rules,
        initial_cash=initial_cash,
        sizing=sizing or Sizing(weight=weight, whole_shares=whole_shares),
        rebalance=rebalance or Rebalance(drift_tolerance=drift_tolerance),
        costs=costs or Costs(),
        limits=limits or Limits(),
        fill=fill,
        **fields,
    )


def long_when(*rules: Rule) -> Rules:
    return Rules(long_entry=RuleGroup.of(*rules))


def short_when(*rules: Rule) -> Rules:
    return Rules(short_entry=RuleGroup.of(*rules))
