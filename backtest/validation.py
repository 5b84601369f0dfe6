"""Config validation: every problem of a `StrategyConfig`, each naming its field.

`violations(config)` lists them; `check(config)` raises `InvalidArgument` carrying all of them
as BadRequest field violations (the message names the first), so a client is told exactly which
field to fix. Contradictory rules count: an exit that holds whenever its entry holds, or entries
to both sides that hold together.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backtest.config import (
    REGIME_FIELD,
    Combine,
    FillPrice,
    Frequency,
    Operator,
    PriceField,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    RuleSource,
    SignalField,
    SizingMethod,
    StrategyConfig,
)
from services.runtime.errors import FieldViolation, InvalidArgument

NUMERIC_OPS = frozenset(
    {
        Operator.GT,
        Operator.LT,
        Operator.GE,
        Operator.LE,
        Operator.CROSSES_ABOVE,
        Operator.CROSSES_BELOW,
    }
)
MAX_WINDOW = 100_000


def check(config: StrategyConfig) -> None:
    """Raise InvalidArgument listing every violation (the message names the first ones)."""
    found = violations(config)
    if found:
        shown = "; ".join(f"{v.field}: {v.description}" for v in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise InvalidArgument(
            f"invalid strategy config: {shown}{more}",
            reason="INVALID_STRATEGY",
            metadata={"field": found[0].field, "violations": str(len(found))},
            violations=found,
        )


def violations(config: StrategyConfig) -> list[FieldViolation]:
    """Every problem of `config`, in field order."""
    out: list[FieldViolation] = []

    def bad(field: str, description: str) -> None:
        out.append(FieldViolation(field, description))

    _universe(config, bad)
    if not isinstance(config.frequency, Frequency):
        bad("frequency", f"must be one of {_choices(Frequency)}")
    _time_range(config, bad)
    _number(config.initial_cash, "initial_cash", bad, low=0.0, inclusive=False)
    _sizing(config, bad)
    _rebalance(config, bad)
    for name in ("commission_bps", "commission_per_share", "slippage_bps"):
        _number(getattr(config.costs, name), f"costs.{name}", bad, low=0.0)
    if _finite(config.costs.slippage_bps) and config.costs.slippage_bps >= 10_000:
        bad("costs.slippage_bps", "must be < 10000 (100 %)")
    _limits(config, bad)
    if not isinstance(config.fill, FillPrice):
        bad("fill", f"must be one of {_choices(FillPrice)}")
    for name in ("signal_model", "regime_model", "feature_view", "feature_version", "benchmark"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            bad(name, "must be a non-empty string when given")
    _number(config.risk_free_rate, "risk_free_rate", bad, low=-1.0, inclusive=False)
    if config.periods_per_year is not None:
        _number(config.periods_per_year, "periods_per_year", bad, low=0.0, inclusive=False)
    _rules(config, bad)
    return out


Bad = Callable[[str, str], None]


def _choices(kind: type[Enum]) -> str:
    return ", ".join(str(member.value) for member in kind)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(
    value: object,
    field: str,
    bad: Bad,
    *,
    low: float | None = None,
    high: float | None = None,
    inclusive: bool = True,
) -> bool:
    """Check a finite number within bounds; True when it is fine."""
    if not _finite(value):
        bad(field, "must be a finite number")
        return False
    assert isinstance(value, int | float)
    if low is not None and (value < low if inclusive else value <= low):
        bad(field, f"must be {'>=' if inclusive else '>'} {low:g}")
        return False
    if high is not None and value > high:
        bad(field, f"must be <= {high:g}")
        return False
    return True


def _integer(value: object, field: str, bad: Bad, low: int) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        bad(field, "must be an integer")
        return False
    if not low <= value <= MAX_WINDOW:
        bad(field, f"must be between {low} and {MAX_WINDOW}")
        return False
    return True


def _universe(config: StrategyConfig, bad: Bad) -> None:
    if not isinstance(config.universe, tuple | list) or not config.universe:
        bad("universe", "must not be empty")
        return
    seen: set[str] = set()
    for i, symbol in enumerate(config.universe):
        if not isinstance(symbol, str) or not symbol.strip():
            bad(f"universe[{i}]", "must be a non-empty symbol")
        elif symbol in seen:
            bad(f"universe[{i}]", f"duplicate symbol {symbol!r}")
        else:
            seen.add(symbol)


def _time_range(config: StrategyConfig, bad: Bad) -> None:
    for name in ("start", "end"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, datetime):
            bad(name, "must be a datetime")
    start, end = config.start, config.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        try:
            if start >= end:
                bad("end", "must be after start")
        except TypeError:
            bad("end", "start and end must both carry a time zone or both be naive (UTC)")


def _sizing(config: StrategyConfig, bad: Bad) -> None:
    sizing, limits = config.sizing, config.limits
    if not isinstance(sizing.method, SizingMethod):
        bad("sizing.method", f"must be one of {_choices(SizingMethod)}")
    weight_ok = sizing.weight is not None and _number(
        sizing.weight, "sizing.weight", bad, low=0.0, inclusive=False
    )
    if weight_ok and _finite(limits.max_position_weight):
        assert sizing.weight is not None
        if sizing.weight > limits.max_position_weight:
            bad("sizing.weight", "cannot exceed limits.max_position_weight")
    if _number(sizing.gross_target, "sizing.gross_target", bad, low=0.0, inclusive=False) and (
        _finite(limits.gross_leverage) and sizing.gross_target > limits.gross_leverage
    ):
        bad("sizing.gross_target", "cannot exceed limits.gross_leverage")
    _number(sizing.target_volatility, "sizing.target_volatility", bad, low=0.0, inclusive=False)
    _integer(sizing.volatility_window, "sizing.volatility_window", bad, low=2)
    if not isinstance(sizing.whole_shares, bool):
        bad("sizing.whole_shares", "must be true or false")
    if sizing.method is SizingMethod.SIGNAL_PROPORTIONAL and config.signal_model is None:
        bad("sizing.method", "signal_proportional sizing needs signal_model")


def _rebalance(config: StrategyConfig, bad: Bad) -> None:
    rebalance = config.rebalance
    if not isinstance(rebalance.frequency, RebalanceFrequency):
        bad("rebalance.frequency", f"must be one of {_choices(RebalanceFrequency)}")
    if rebalance.drift_tolerance is not None:
        _number(rebalance.drift_tolerance, "rebalance.drift_tolerance", bad, low=0.0)
    try:
        ZoneInfo(rebalance.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        bad("rebalance.timezone", f"unknown time zone {rebalance.timezone!r}")


def _limits(config: StrategyConfig, bad: Bad) -> None:
    limits = config.limits
    position = _number(
        limits.max_position_weight, "limits.max_position_weight", bad, low=0.0, inclusive=False
    )
    gross = _number(limits.gross_leverage, "limits.gross_leverage", bad, low=0.0, inclusive=False)
    net = _number(limits.net_leverage, "limits.net_leverage", bad, low=0.0)
    if gross and net and limits.net_leverage > limits.gross_leverage:
        bad("limits.net_leverage", "cannot exceed gross_leverage")
    if gross and position and limits.max_position_weight > limits.gross_leverage:
        bad("limits.max_position_weight", "cannot exceed gross_leverage")


# -- rules --------------------------------------------------------------------------------


def _rules(config: StrategyConfig, bad: Bad) -> None:
    rules = config.rules
    groups: dict[str, RuleGroup | None] = {
        side: getattr(rules, side, None)
        for side in ("long_entry", "long_exit", "short_entry", "short_exit")
    }
    if groups["long_entry"] is None and groups["short_entry"] is None:
        bad("rules", "needs long_entry or short_entry")
    for side, group in groups.items():
        if group is None:
            continue
        path = f"rules.{side}"
        if not isinstance(group, RuleGroup):
            bad(path, "must be a rule group")
            continue
        if not isinstance(group.combine, Combine):
            bad(f"{path}.combine", f"must be one of {_choices(Combine)}")
        if not group.rules:
            bad(f"{path}.rules", "must not be empty")
        for i, rule in enumerate(group.rules):
            _rule(config, rule, f"{path}.rules[{i}]", bad)
    for side in ("long", "short"):
        entry, exit_ = groups[f"{side}_entry"], groups[f"{side}_exit"]
        if exit_ is not None and entry is None:
            bad(f"rules.{side}_exit", f"has no {side}_entry to exit")
        elif _groups_ok(entry, exit_) and entry and exit_ and implies(entry, exit_):
            bad(
                f"rules.{side}_exit",
                f"contradicts rules.{side}_entry: it holds whenever the entry holds",
            )
    long_entry, short_entry = groups["long_entry"], groups["short_entry"]
    if (
        long_entry is not None
        and short_entry is not None
        and _groups_ok(long_entry, short_entry)
        and (implies(long_entry, short_entry) or implies(short_entry, long_entry))
    ):
        bad("rules.short_entry", "contradicts rules.long_entry: both can only hold together")


def _groups_ok(*groups: RuleGroup | None) -> bool:
    return all(
        g is None or (isinstance(g, RuleGroup) and g.rules and isinstance(g.combine, Combine))
        for g in groups
    )


def _rule(config: StrategyConfig, rule: Rule, path: str, bad: Bad) -> None:
    if not isinstance(rule, Rule):
        bad(path, "must be a rule")
        return
    if not isinstance(rule.source, RuleSource):
        bad(f"{path}.source", f"must be one of {_choices(RuleSource)}")
        return
    if not isinstance(rule.op, Operator):
        bad(f"{path}.op", f"must be one of {_choices(Operator)}")
        return
    if rule.symbol is not None and (not isinstance(rule.symbol, str) or not rule.symbol.strip()):
        bad(f"{path}.symbol", "must be a non-empty symbol when given")
    categorical = False
    if rule.source is RuleSource.SIGNAL:
        if config.signal_model is None:
            bad(f"{path}.source", "signal rules need signal_model")
        if rule.field not in tuple(SignalField):
            bad(f"{path}.field", f"must be one of {_choices(SignalField)}")
        elif rule.field == SignalField.RANK and rule.symbol and rule.symbol not in config.universe:
            bad(f"{path}.symbol", "a rank is only defined for universe symbols")
    elif rule.source is RuleSource.REGIME:
        categorical = True
        if config.regime_model is None:
            bad(f"{path}.source", "regime rules need regime_model")
        if rule.field != REGIME_FIELD:
            bad(f"{path}.field", f"must be {REGIME_FIELD!r}")
    elif rule.source is RuleSource.FEATURE:
        if config.feature_view is None:
            bad(f"{path}.source", "feature rules need feature_view")
        if not isinstance(rule.field, str) or not rule.field.strip():
            bad(f"{path}.field", "must name a feature")
    else:
        _price_rule(rule, path, bad)
    _operands(rule, path, bad, categorical=categorical)


def _price_rule(rule: Rule, path: str, bad: Bad) -> None:
    if rule.field not in tuple(PriceField):
        bad(f"{path}.field", f"must be one of {_choices(PriceField)}")
        return
    field = PriceField(rule.field)
    if field in (PriceField.SMA_CROSS, PriceField.SMA_SPREAD):
        fast = _integer(rule.fast, f"{path}.fast", bad, low=1)
        slow = _integer(rule.slow, f"{path}.slow", bad, low=2)
        if fast and slow and rule.fast >= rule.slow:
            bad(f"{path}.fast", "must be less than slow")
    elif field is PriceField.RETURN:
        _integer(rule.window, f"{path}.window", bad, low=1)
    elif field is PriceField.VOLATILITY:
        _integer(rule.window, f"{path}.window", bad, low=2)


def _operands(rule: Rule, path: str, bad: Bad, *, categorical: bool) -> None:
    if rule.op is Operator.IN:
        if not rule.values:
            bad(f"{path}.values", "must not be empty for 'in'")
        for j, value in enumerate(rule.values):
            _operand(value, f"{path}.values[{j}]", bad, categorical=categorical)
        return
    if rule.op in NUMERIC_OPS and categorical:
        bad(f"{path}.op", "regime labels compare with '==' or 'in' only")
        return
    if rule.value is None:
        bad(f"{path}.value", f"is required for {rule.op.value!r}")
        return
    _operand(rule.value, f"{path}.value", bad, categorical=categorical)


def _operand(value: object, path: str, bad: Bad, *, categorical: bool) -> None:
    if categorical:
        if not isinstance(value, str) or not value.strip():
            bad(path, "must be a regime label")
    elif not _finite(value):
        bad(path, "must be a finite number")


# -- implication (contradictions) -----------------------------------------------------------


def implies(a: RuleGroup, b: RuleGroup) -> bool:
    """Whether group `a` holding guarantees `b` holds, judged from the rules' text."""
    if a.combine is Combine.ANY:
        return all(implies(RuleGroup((rule,)), b) for rule in a.rules)
    if b.combine is Combine.ANY:
        return any(rule_implies(x, y) for x in a.rules for y in b.rules)
    return all(any(rule_implies(x, y) for x in a.rules) for y in b.rules)


def rule_implies(a: Rule, b: Rule) -> bool:
    """Whether rule `a` holding guarantees rule `b` holds (same quantity, looser bound)."""
    if a == b:
        return True
    same_subject = (a.source, a.field, a.fast, a.slow, a.window, a.symbol) == (
        b.source,
        b.field,
        b.fast,
        b.slow,
        b.window,
        b.symbol,
    )
    if not same_subject:
        return False
    points = _points(a)
    if points is not None:
        return all(_satisfies(p, b) for p in points)
    if not (isinstance(a.value, int | float) and isinstance(b.value, int | float)):
        return False
    x, y = float(a.value), float(b.value)
    upward = {Operator.GT, Operator.GE}
    downward = {Operator.LT, Operator.LE}
    if a.op in upward and b.op in upward:
        return x > y or (x == y and (a.op is Operator.GT or b.op is Operator.GE))
    if a.op in downward and b.op in downward:
        return x < y or (x == y and (a.op is Operator.LT or b.op is Operator.LE))
    return False


def _points(rule: Rule) -> tuple[float | str, ...] | None:
    """The values a rule admits when it admits finitely many (== and in)."""
    if rule.op is Operator.EQ and rule.value is not None:
        return (rule.value,)
    if rule.op is Operator.IN:
        return rule.values
    return None


def _satisfies(point: float | str, rule: Rule) -> bool:
    if rule.op is Operator.IN:
        return point in rule.values
    if rule.op is Operator.EQ:
        return point == rule.value
    if isinstance(point, str) or not isinstance(rule.value, int | float):
        return False
    value = float(rule.value)
    compare = {
        Operator.GT: point > value,
        Operator.GE: point >= value,
        Operator.LT: point < value,
        Operator.LE: point <= value,
    }
    return compare.get(rule.op, False)
