"""Rules, vectorized: each rule is a rows x universe boolean matrix; the entry and exit groups
drive one long and one short latch per symbol, giving the side (+1, 0, -1) the strategy wants at
every bar. See `config.Rules` for the semantics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest import indicators
from backtest.arrays import BoolArray, FloatArray, SideArray
from backtest.config import (
    Combine,
    Operator,
    PriceField,
    Rule,
    RuleGroup,
    Rules,
    RuleSource,
    SignalField,
)
from backtest.market import Market


@dataclass
class RuleContext:
    """The market a strategy's rules read, with each quantity computed once per run."""

    market: Market
    periods_per_year: float
    _values: dict[tuple[object, ...], FloatArray] = field(default_factory=dict)

    def values(self, rule: Rule) -> FloatArray:
        """The rule's quantity as rows x columns (one column when `rule.symbol` is set)."""
        key = (rule.source, rule.field, rule.fast, rule.slow, rule.window, rule.symbol)
        if key not in self._values:
            self._values[key] = self._compute(rule)
        return self._values[key]

    def _columns(self, rule: Rule) -> list[int]:
        m = self.market
        return [m.column(rule.symbol)] if rule.symbol else list(range(m.n_universe))

    def _compute(self, rule: Rule) -> FloatArray:
        m = self.market
        columns = self._columns(rule)
        if rule.source is RuleSource.SIGNAL:
            assert m.signals is not None
            if rule.field == SignalField.RANK:
                return self.signal_rank()[:, columns]
            return m.signals[:, columns]
        if rule.source is RuleSource.REGIME:
            assert m.regimes is not None
            codes: FloatArray = m.regimes[:, columns].astype(np.float64)
            return codes
        if rule.source is RuleSource.FEATURE:
            assert m.features is not None
            return m.features[rule.field][:, columns]
        if all(j < m.n_universe for j in columns) and m.has_bar[:, columns].all():
            return self.price_field(rule, m.close[:, columns])  # complete: all at once
        out = np.empty((m.rows, len(columns)))
        for k, j in enumerate(columns):
            out[:, k] = m.asof(j, self.price_field(rule, m.series[j].close))
        return out

    def price_field(self, rule: Rule, close: FloatArray) -> FloatArray:
        kind = PriceField(rule.field)
        if kind is PriceField.CLOSE:
            return close
        if kind is PriceField.RETURN:
            return indicators.trailing_return(close, rule.window)
        if kind is PriceField.SMA_CROSS:
            return indicators.sma_cross(close, rule.fast, rule.slow)
        if kind is PriceField.SMA_SPREAD:
            return indicators.sma_spread(close, rule.fast, rule.slow)
        return indicators.volatility(close, rule.window, self.periods_per_year)

    def signal_rank(self) -> FloatArray:
        """Cross-sectional percentile of the score among the universe at each row, in [0, 1]
        (average ranks for ties; 0.5 when one symbol has a score; NaN without a score)."""
        key: tuple[object, ...] = ("signal-rank",)
        if key not in self._values:
            m = self.market
            assert m.signals is not None
            scores = pd.DataFrame(m.signals[:, : m.n_universe])
            ranks = scores.rank(axis=1, method="average").to_numpy()
            count = scores.notna().sum(axis=1).to_numpy()[:, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.where(count > 1, (ranks - 1) / (count - 1), 0.5)
            pct[np.isnan(ranks)] = np.nan
            full = np.full((m.rows, len(m.symbols)), np.nan)
            full[:, : m.n_universe] = pct
            self._values[key] = full
        return self._values[key]


def holds(rule: Rule, ctx: RuleContext) -> BoolArray:
    """Rows x universe: where the rule holds (a fixed-symbol rule holds for every member)."""
    values = ctx.values(rule)
    if rule.source is RuleSource.REGIME:
        result = _regime_holds(rule, values, ctx.market.regime_labels)
    else:
        result = _compare(rule, values)
    return np.broadcast_to(result, (ctx.market.rows, ctx.market.n_universe))


def _regime_holds(rule: Rule, codes: FloatArray, labels: tuple[str, ...]) -> BoolArray:
    wanted = rule.values if rule.op is Operator.IN else (rule.value,)
    index = [labels.index(v) for v in wanted if isinstance(v, str) and v in labels]
    held: BoolArray = np.isin(codes, np.asarray(index, dtype=np.float64))
    return held


def _compare(rule: Rule, x: FloatArray) -> BoolArray:
    op = rule.op
    with np.errstate(invalid="ignore"):
        if op is Operator.IN:
            return np.isin(x, np.asarray(rule.values, dtype=np.float64))
        assert isinstance(rule.value, int | float)  # validated: a number
        v = float(rule.value)
        if op in (Operator.CROSSES_ABOVE, Operator.CROSSES_BELOW):
            previous = np.full_like(x, np.nan)
            previous[1:] = x[:-1]
            if op is Operator.CROSSES_ABOVE:
                return (previous <= v) & (x > v)
            return (previous >= v) & (x < v)
        compare = {
            Operator.GT: np.greater,
            Operator.LT: np.less,
            Operator.GE: np.greater_equal,
            Operator.LE: np.less_equal,
            Operator.EQ: np.equal,
        }[op]
        held: BoolArray = compare(x, v)
        return held


def group_holds(group: RuleGroup, ctx: RuleContext) -> BoolArray:
    parts = [holds(rule, ctx) for rule in group.rules]
    combined = np.logical_and if group.combine is Combine.ALL else np.logical_or
    result: BoolArray = parts[0].copy()
    for part in parts[1:]:
        combined(result, part, out=result)
    return result


def desired_sides(rules: Rules, ctx: RuleContext, start_row: int) -> SideArray:
    """+1 / 0 / -1 per row and universe symbol; flat before `start_row`."""
    shape = (ctx.market.rows, ctx.market.n_universe)
    never = np.zeros(shape, dtype=bool)
    long_entry = group_holds(rules.long_entry, ctx) if rules.long_entry else never
    short_entry = group_holds(rules.short_entry, ctx) if rules.short_entry else never
    long_exit = group_holds(rules.long_exit, ctx) if rules.long_exit else ~long_entry
    short_exit = group_holds(rules.short_exit, ctx) if rules.short_exit else ~short_entry
    live = np.zeros(shape[0], dtype=bool)
    live[start_row:] = True
    live = live[:, None]
    long_state = _latch(
        long_entry & ~long_exit & ~short_entry & live, (long_exit | short_entry) & live
    )
    short_state = _latch(
        short_entry & ~short_exit & ~long_entry & live, (short_exit | long_entry) & live
    )
    sides: SideArray = long_state.astype(np.int8) - short_state.astype(np.int8)
    return sides


def _latch(set_: BoolArray, reset: BoolArray) -> BoolArray:
    """True from a row where `set_` holds until a row where `reset` holds (disjoint events)."""
    rows = set_.shape[0]
    index = np.where(set_ | reset, np.arange(rows)[:, None], -1)
    np.maximum.accumulate(index, axis=0, out=index)
    state: BoolArray = np.take_along_axis(set_, np.maximum(index, 0), axis=0) & (index >= 0)
    return state
