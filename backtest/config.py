"""A strategy as data: `StrategyConfig` and its parts (frozen, typed, hashable).

A strategy holds a universe, entry and exit rules over signal scores, regime labels, stored
features and price-derived quantities, a sizing method, a rebalance schedule, costs, limits and a
fill convention. Nothing here runs; `validation.check` says whether a config makes sense and
`engine` runs it. The semantics of each field are documented where it is declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.marketdata.domain.bar_table import Frequency

__all__ = [
    "Combine",
    "Costs",
    "FillPrice",
    "Frequency",
    "Limits",
    "Operator",
    "PriceField",
    "Rebalance",
    "RebalanceFrequency",
    "Rule",
    "RuleGroup",
    "RuleSource",
    "Rules",
    "SignalField",
    "Sizing",
    "SizingMethod",
    "StrategyConfig",
]


class RuleSource(StrEnum):
    """Where a rule's value comes from."""

    SIGNAL = "signal"  # the strategy's signal model: field `score` or `rank`
    REGIME = "regime"  # the strategy's regime model: field `label`
    FEATURE = "feature"  # a column of the strategy's feature view
    PRICE = "price"  # derived from the symbol's own bars (see PriceField)


class Operator(StrEnum):
    """How a rule compares its value at bar t with `value` (or `values` for IN)."""

    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="
    EQ = "=="
    IN = "in"
    #: x[t-1] <= value < x[t]: the bar where the value rises through the threshold.
    CROSSES_ABOVE = "crosses_above"
    #: x[t-1] >= value > x[t]: the bar where the value falls through the threshold.
    CROSSES_BELOW = "crosses_below"


class SignalField(StrEnum):
    SCORE = "score"  # the model's score
    RANK = "rank"  # cross-sectional percentile of the score in the universe at t, in [0, 1]


class PriceField(StrEnum):
    """Price-derived quantities (computed on each symbol's own bars, causally)."""

    CLOSE = "close"
    #: close[t] / close[t - window] - 1.
    RETURN = "return"
    #: SMA(fast) - SMA(slow) of closes; its sign says which average is above.
    SMA_CROSS = "sma_cross"
    #: SMA(fast) / SMA(slow) - 1.
    SMA_SPREAD = "sma_spread"
    #: Annualized standard deviation (ddof 1) of one-bar returns over the last `window` bars.
    VOLATILITY = "volatility"


REGIME_FIELD = "label"


@dataclass(frozen=True)
class Rule:
    """One condition, evaluated per universe symbol and bar.

    `symbol` evaluates the condition on that one symbol for every universe member (a market
    filter such as "SPY's regime is CALM_UPTREND"). Values stamped at time t (signals, regimes,
    features) are used from the bar at t on: as-of alignment, never a later value.
    """

    source: RuleSource
    field: str
    op: Operator
    value: float | str | None = None
    values: tuple[float | str, ...] = ()
    fast: int = 0  # sma_cross, sma_spread
    slow: int = 0  # sma_cross, sma_spread
    window: int = 0  # return, volatility
    symbol: str | None = None

    @classmethod
    def signal(
        cls, op: Operator, value: float, field: str = SignalField.SCORE, symbol: str | None = None
    ) -> Rule:
        return cls(RuleSource.SIGNAL, str(field), op, float(value), symbol=symbol)

    @classmethod
    def regime_in(cls, *labels: str, symbol: str | None = None) -> Rule:
        return cls(RuleSource.REGIME, REGIME_FIELD, Operator.IN, values=labels, symbol=symbol)

    @classmethod
    def feature(cls, name: str, op: Operator, value: float, symbol: str | None = None) -> Rule:
        return cls(RuleSource.FEATURE, name, op, float(value), symbol=symbol)

    @classmethod
    def sma_cross(
        cls,
        fast: int,
        slow: int,
        op: Operator = Operator.CROSSES_ABOVE,
        value: float = 0.0,
        symbol: str | None = None,
    ) -> Rule:
        return cls(
            RuleSource.PRICE, PriceField.SMA_CROSS, op, value, fast=fast, slow=slow, symbol=symbol
        )

    @classmethod
    def price(
        cls,
        field: PriceField,
        op: Operator,
        value: float,
        window: int = 0,
        symbol: str | None = None,
    ) -> Rule:
        return cls(RuleSource.PRICE, str(field), op, float(value), window=window, symbol=symbol)


class Combine(StrEnum):
    ALL = "all"  # every rule holds
    ANY = "any"  # at least one rule holds


@dataclass(frozen=True)
class RuleGroup:
    rules: tuple[Rule, ...]
    combine: Combine = Combine.ALL

    @classmethod
    def of(cls, *rules: Rule, combine: Combine = Combine.ALL) -> RuleGroup:
        return cls(tuple(rules), combine)


@dataclass(frozen=True)
class Rules:
    """Entry and exit conditions per side; each symbol is long, short or flat.

    The rules run on every bar from the start on (so a crossing between two rebalance bars is
    not missed); positions follow the resulting side on decision bars. Flat enters long when
    `long_entry` holds (short likewise); an entry to one side also leaves the other (a flip). A
    position is left when its exit group holds, or, when the exit group is None, as soon as its
    entry group no longer holds. On one bar an exit beats the same side's entry, and entries to
    both sides at once leave the symbol flat.
    """

    long_entry: RuleGroup | None = None
    long_exit: RuleGroup | None = None
    short_entry: RuleGroup | None = None
    short_exit: RuleGroup | None = None


class SizingMethod(StrEnum):
    #: Each active position gets `weight`, or `gross_target` / number of active positions.
    EQUAL_WEIGHT = "equal_weight"
    #: Each of n active positions gets target_volatility / (n * its volatility): a fully
    #: correlated book runs at the target, a diversified one below it.
    VOLATILITY_TARGET = "volatility_target"
    #: Weights proportional to |score| over the active positions, summing to `gross_target`.
    SIGNAL_PROPORTIONAL = "signal_proportional"


@dataclass(frozen=True)
class Sizing:
    """Target weights (signed fractions of equity) of the positions the rules hold."""

    method: SizingMethod = SizingMethod.EQUAL_WEIGHT
    weight: float | None = None
    gross_target: float = 1.0
    target_volatility: float = 0.10
    volatility_window: int = 20
    #: Orders are whole shares (rounded toward zero); False trades fractional shares.
    whole_shares: bool = True


class RebalanceFrequency(StrEnum):
    """Which bars are decision bars: every bar, or the last bar of each day, week (Monday to
    Sunday) or month in `Rebalance.timezone`. Period ends come from the bar timestamps (a
    calendar), never from prices."""

    EVERY_BAR = "every_bar"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Rebalance:
    frequency: RebalanceFrequency = RebalanceFrequency.EVERY_BAR
    #: On a decision bar, a held position is resized to its target when its weight is more
    #: than this away from it (0: always). None: held positions keep their shares; only
    #: entries, exits and flips trade.
    drift_tolerance: float | None = 0.0
    timezone: str = "UTC"


@dataclass(frozen=True)
class Costs:
    """Per fill: commission = |qty| * price * commission_bps / 1e4 + |qty| * per_share;
    the fill price moves against the order by slippage_bps / 1e4."""

    commission_bps: float = 0.0
    commission_per_share: float = 0.0
    slippage_bps: float = 0.0


@dataclass(frozen=True)
class Limits:
    """Caps on target weights, applied in this order: each |weight| <= max_position_weight,
    then sum |weight| <= gross_leverage (scaled down), then |sum weight| <= net_leverage (the
    heavier side scaled down). When held positions keep their shares (drift_tolerance None), a
    new position is also fitted into the room the kept ones leave at that close. Between trades
    (and within a drift tolerance) weights move with prices."""

    max_position_weight: float = 1.0
    gross_leverage: float = 1.0
    net_leverage: float = 1.0


class FillPrice(StrEnum):
    """Orders decided at the close of bar t fill at the open of the symbol's next bar, or at
    the close of bar t itself."""

    NEXT_OPEN = "next_open"
    CLOSE = "close"


@dataclass(frozen=True)
class StrategyConfig:
    """A complete backtest: what to trade, when, how much, at what cost, over which bars.

    `start`/`end` bound the traded and reported bars; bars before `start` are still read to
    warm up indicators. `signal_model` and `regime_model` name models of the signal and regime
    services (e.g. "momentum@champion"); `feature_view`/`feature_version` a feature view.
    `benchmark` is the symbol beta and alpha are measured against. `periods_per_year` overrides
    the annualization (default: 252 for daily bars; for minute bars 252 times the observed bars
    per session).
    """

    universe: tuple[str, ...]
    rules: Rules
    name: str = "strategy"
    frequency: Frequency = Frequency.DAILY
    start: datetime | None = None
    end: datetime | None = None
    initial_cash: float = 1_000_000.0
    sizing: Sizing = field(default_factory=Sizing)
    rebalance: Rebalance = field(default_factory=Rebalance)
    costs: Costs = field(default_factory=Costs)
    limits: Limits = field(default_factory=Limits)
    fill: FillPrice = FillPrice.NEXT_OPEN
    signal_model: str | None = None
    regime_model: str | None = None
    feature_view: str | None = None
    feature_version: str | None = None
    benchmark: str | None = None
    risk_free_rate: float = 0.0
    periods_per_year: float | None = None

    def all_rules(self) -> tuple[tuple[str, Rule], ...]:
        """Every rule with its field path, e.g. ("rules.long_entry.rules[0]", rule)."""
        found: list[tuple[str, Rule]] = []
        for side in ("long_entry", "long_exit", "short_entry", "short_exit"):
            group: RuleGroup | None = getattr(self.rules, side)
            if group is not None:
                found += [(f"rules.{side}.rules[{i}]", r) for i, r in enumerate(group.rules)]
        return tuple(found)

    def uses(self, source: RuleSource) -> bool:
        """Whether any rule reads `source` (signals also when sizing is signal-proportional)."""
        if source is RuleSource.SIGNAL and self.sizing.method is SizingMethod.SIGNAL_PROPORTIONAL:
            return True
        return any(rule.source is source for _, rule in self.all_rules())

    def extra_symbols(self) -> tuple[str, ...]:
        """Symbols read besides the universe: the benchmark and rules' fixed symbols."""
        extra = [r.symbol for _, r in self.all_rules() if r.symbol]
        if self.benchmark:
            extra.append(self.benchmark)
        universe = set(self.universe)
        return tuple(dict.fromkeys(s for s in extra if s not in universe))
