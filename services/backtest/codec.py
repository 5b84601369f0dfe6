"""Protobuf <-> domain for the backtest service, shared by the servicer and the typed client.

Field paths: the engine names a config's fields as `StrategyConfig` does ("universe[2]",
"start"); on the wire they are named relative to RunBacktestRequest ("config.universe[2]",
"config.time_range.start"), see `request_field`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from quantmesh.backtest.v1 import backtest_pb2 as pb
from quantmesh.common.v1 import model_ref_pb2

from backtest.config import (
    Combine,
    Costs,
    FillPrice,
    Limits,
    Operator,
    Rebalance,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    Rules,
    RuleSource,
    Sizing,
    SizingMethod,
    StrategyConfig,
)
from backtest.kpis import Kpis
from services.backtest.domain.records import (
    BacktestRecord,
    BacktestState,
    ModelUsed,
    Provenance,
    RunError,
)
from services.marketdata.codec import frequency_from_pb, frequency_to_pb
from services.runtime.errors import FieldViolation, InvalidArgument, QuantmeshError
from services.runtime.model_refs import ModelRef, ref_from_pb, ref_to_pb
from services.runtime.time_convert import (
    from_timestamp,
    optional_from_timestamp,
    to_time_range,
    to_timestamp,
)

E = TypeVar("E", bound=Enum)
CONFIG = "config"


def _enum_maps(kind: type[E], wrapper: Any, prefix: str) -> tuple[dict[E, int], dict[int, E]]:
    to_pb = {member: int(wrapper.Value(f"{prefix}{member.name}")) for member in kind}
    return to_pb, {v: k for k, v in to_pb.items()}


SOURCE_TO_PB, SOURCE_FROM_PB = _enum_maps(RuleSource, pb.RuleSource, "RULE_SOURCE_")
OPERATOR_TO_PB, OPERATOR_FROM_PB = _enum_maps(Operator, pb.RuleOperator, "RULE_OPERATOR_")
COMBINE_TO_PB, COMBINE_FROM_PB = _enum_maps(Combine, pb.RuleCombine, "RULE_COMBINE_")
SIZING_TO_PB, SIZING_FROM_PB = _enum_maps(SizingMethod, pb.SizingMethod, "SIZING_METHOD_")
REBALANCE_TO_PB, REBALANCE_FROM_PB = _enum_maps(
    RebalanceFrequency, pb.RebalanceFrequency, "REBALANCE_FREQUENCY_"
)
FILL_TO_PB, FILL_FROM_PB = _enum_maps(FillPrice, pb.FillPrice, "FILL_PRICE_")
STATE_TO_PB, STATE_FROM_PB = _enum_maps(BacktestState, pb.BacktestState, "BACKTEST_STATE_")

#: What an empty `field` means per source.
DEFAULT_FIELDS = {RuleSource.SIGNAL: "score", RuleSource.REGIME: "label"}


def _enum(value: int, table: Mapping[int, E], path: str, default: E | None = None) -> E:
    """The member for a wire value; UNSPECIFIED (0) is `default`, or required."""
    if value == 0 and default is not None:
        return default
    if value == 0:
        raise InvalidArgument.for_field(path, "is required")
    if value not in table:
        raise InvalidArgument.for_field(path, f"unknown value {value}")
    return table[value]


def _optional(message: Any, name: str, default: Any) -> Any:
    return getattr(message, name) if message.HasField(name) else default


# -- config: wire -> domain ------------------------------------------------------------------


def rule_from_pb(message: pb.Rule, path: str) -> Rule:
    source = _enum(message.source, SOURCE_FROM_PB, f"{path}.source")
    op = _enum(message.op, OPERATOR_FROM_PB, f"{path}.op")
    operand = message.WhichOneof("operand")
    value: float | str | None = None
    if operand == "value":
        value = message.value
    elif operand == "label":
        value = message.label
    if message.values and message.labels:
        raise InvalidArgument.for_field(f"{path}.labels", "give values or labels, not both")
    values: tuple[float | str, ...] = (
        tuple(message.labels) if message.labels else tuple(message.values)
    )
    return Rule(
        source=source,
        field=message.field.strip() or DEFAULT_FIELDS.get(source, ""),
        op=op,
        value=value,
        values=values,
        fast=message.fast,
        slow=message.slow,
        window=message.window,
        symbol=message.symbol.strip().upper() or None,
    )


def group_from_pb(message: pb.RuleGroup, path: str) -> RuleGroup:
    combine = _enum(message.combine, COMBINE_FROM_PB, f"{path}.combine", Combine.ALL)
    rules = tuple(rule_from_pb(r, f"{path}.rules[{i}]") for i, r in enumerate(message.rules))
    return RuleGroup(rules, combine)


def rules_from_pb(message: pb.Rules, path: str) -> Rules:
    groups = {
        side: group_from_pb(getattr(message, side), f"{path}.{side}")
        if message.HasField(side)
        else None
        for side in ("long_entry", "long_exit", "short_entry", "short_exit")
    }
    return Rules(**groups)


def _model(message: Any, name: str, path: str) -> str | None:
    if not message.HasField(name):
        return None
    return str(ref_from_pb(getattr(message, name), path))


def config_from_pb(message: pb.StrategyConfig, path: str = CONFIG) -> StrategyConfig:
    """The domain config; InvalidArgument naming the field for what cannot be decoded (values
    are checked later, by the domain)."""
    frequency = frequency_from_pb(message.frequency, f"{path}.frequency")
    if frequency is None:
        raise InvalidArgument.for_field(
            f"{path}.frequency", "is required: FREQUENCY_DAILY or FREQUENCY_MINUTE"
        )
    defaults = StrategyConfig(universe=(), rules=Rules())
    sizing, rebalance = message.sizing, message.rebalance
    limits, costs = message.limits, message.costs
    if rebalance.keep_shares and rebalance.HasField("drift_tolerance"):
        raise InvalidArgument.for_field(
            f"{path}.rebalance.drift_tolerance", "cannot be set together with keep_shares"
        )
    window = message.time_range
    return StrategyConfig(
        universe=tuple(s.strip().upper() for s in message.universe),
        rules=rules_from_pb(message.rules, f"{path}.rules"),
        name=message.name.strip() or defaults.name,
        frequency=frequency,
        start=optional_from_timestamp(window, "start"),
        end=optional_from_timestamp(window, "end"),
        initial_cash=_optional(message, "initial_cash", defaults.initial_cash),
        sizing=Sizing(
            method=_enum(
                sizing.method, SIZING_FROM_PB, f"{path}.sizing.method", SizingMethod.EQUAL_WEIGHT
            ),
            weight=_optional(sizing, "weight", None),
            gross_target=_optional(sizing, "gross_target", defaults.sizing.gross_target),
            target_volatility=_optional(
                sizing, "target_volatility", defaults.sizing.target_volatility
            ),
            volatility_window=_optional(
                sizing, "volatility_window", defaults.sizing.volatility_window
            ),
            whole_shares=not sizing.fractional_shares,
        ),
        rebalance=Rebalance(
            frequency=_enum(
                rebalance.frequency,
                REBALANCE_FROM_PB,
                f"{path}.rebalance.frequency",
                RebalanceFrequency.EVERY_BAR,
            ),
            drift_tolerance=None
            if rebalance.keep_shares
            else _optional(rebalance, "drift_tolerance", defaults.rebalance.drift_tolerance),
            timezone=rebalance.timezone.strip() or defaults.rebalance.timezone,
        ),
        costs=Costs(costs.commission_bps, costs.commission_per_share, costs.slippage_bps),
        limits=Limits(
            max_position_weight=_optional(
                limits, "max_position_weight", defaults.limits.max_position_weight
            ),
            gross_leverage=_optional(limits, "gross_leverage", defaults.limits.gross_leverage),
            net_leverage=_optional(limits, "net_leverage", defaults.limits.net_leverage),
        ),
        fill=_enum(message.fill, FILL_FROM_PB, f"{path}.fill", FillPrice.NEXT_OPEN),
        signal_model=_model(message, "signal_model", f"{path}.signal_model"),
        regime_model=_model(message, "regime_model", f"{path}.regime_model"),
        feature_view=message.feature_view.strip() or None,
        feature_version=message.feature_version.strip() or None,
        benchmark=message.benchmark.strip().upper() or None,
        risk_free_rate=message.risk_free_rate,
        periods_per_year=_optional(message, "periods_per_year", None),
    )


# -- config: domain -> wire ------------------------------------------------------------------


def rule_to_pb(rule: Rule) -> pb.Rule:
    message = pb.Rule(
        source=SOURCE_TO_PB[rule.source],  # type: ignore[arg-type]
        field=rule.field,
        op=OPERATOR_TO_PB[rule.op],  # type: ignore[arg-type]
        fast=rule.fast,
        slow=rule.slow,
        window=rule.window,
        symbol=rule.symbol or "",
    )
    if isinstance(rule.value, str):
        message.label = rule.value
    elif rule.value is not None:
        message.value = float(rule.value)
    message.labels.extend(v for v in rule.values if isinstance(v, str))
    message.values.extend(float(v) for v in rule.values if not isinstance(v, str))
    return message


def _group_to_pb(group: RuleGroup) -> pb.RuleGroup:
    return pb.RuleGroup(
        rules=[rule_to_pb(r) for r in group.rules],
        combine=COMBINE_TO_PB[group.combine],  # type: ignore[arg-type]
    )


def _model_to_pb(model: str | None) -> model_ref_pb2.ModelRef | None:
    return None if model is None else ref_to_pb(ModelRef.parse(model))


def config_to_pb(config: StrategyConfig) -> pb.StrategyConfig:
    rules = pb.Rules()
    for side in ("long_entry", "long_exit", "short_entry", "short_exit"):
        group = getattr(config.rules, side)
        if group is not None:
            getattr(rules, side).CopyFrom(_group_to_pb(group))
    sizing = pb.Sizing(
        method=SIZING_TO_PB[config.sizing.method],  # type: ignore[arg-type]
        gross_target=config.sizing.gross_target,
        target_volatility=config.sizing.target_volatility,
        volatility_window=config.sizing.volatility_window,
        fractional_shares=not config.sizing.whole_shares,
    )
    if config.sizing.weight is not None:
        sizing.weight = config.sizing.weight
    rebalance = pb.Rebalance(
        frequency=REBALANCE_TO_PB[config.rebalance.frequency],  # type: ignore[arg-type]
        keep_shares=config.rebalance.drift_tolerance is None,
        timezone=config.rebalance.timezone,
    )
    if config.rebalance.drift_tolerance is not None:
        rebalance.drift_tolerance = config.rebalance.drift_tolerance
    message = pb.StrategyConfig(
        name=config.name,
        universe=list(config.universe),
        rules=rules,
        frequency=frequency_to_pb(config.frequency),
        time_range=to_time_range(config.start, config.end),
        initial_cash=config.initial_cash,
        sizing=sizing,
        rebalance=rebalance,
        costs=pb.Costs(
            commission_bps=config.costs.commission_bps,
            commission_per_share=config.costs.commission_per_share,
            slippage_bps=config.costs.slippage_bps,
        ),
        limits=pb.Limits(
            max_position_weight=config.limits.max_position_weight,
            gross_leverage=config.limits.gross_leverage,
            net_leverage=config.limits.net_leverage,
        ),
        fill=FILL_TO_PB[config.fill],  # type: ignore[arg-type]
        feature_view=config.feature_view or "",
        feature_version=config.feature_version or "",
        benchmark=config.benchmark or "",
        risk_free_rate=config.risk_free_rate,
    )
    for name in ("signal_model", "regime_model"):
        ref = _model_to_pb(getattr(config, name))
        if ref is not None:
            getattr(message, name).CopyFrom(ref)
    if config.periods_per_year is not None:
        message.periods_per_year = config.periods_per_year
    return message


# -- field paths and errors ------------------------------------------------------------------

_CONFIG_ROOTS = frozenset(
    {
        "universe",
        "rules",
        "name",
        "frequency",
        "initial_cash",
        "sizing",
        "rebalance",
        "costs",
        "limits",
        "fill",
        "signal_model",
        "regime_model",
        "feature_view",
        "feature_version",
        "benchmark",
        "risk_free_rate",
        "periods_per_year",
    }
)
_RENAMED = {
    "start": "time_range.start",
    "end": "time_range.end",
    "sizing.whole_shares": "sizing.fractional_shares",
}


_OPERAND = re.compile(r"^(rules\.\w+\.rules\[(\d+)\])\.(value|values\[(\d+)\])$")


def _operand_field(path: str, config: StrategyConfig | None) -> str:
    """`...value` / `...values[j]` of a rule whose operand is a label: `label` / `labels[j]`
    on the wire (labels and numbers travel in separate fields)."""
    found = _OPERAND.match(path)
    if found is None or config is None:
        return path
    rule = dict(config.all_rules()).get(found.group(1))
    if rule is None:
        return path
    if found.group(4) is None:
        return f"{found.group(1)}.label" if isinstance(rule.value, str) else path
    j = int(found.group(4))
    labels = [v for v in rule.values if isinstance(v, str)]
    value = rule.values[j] if j < len(rule.values) else None
    if isinstance(value, str):
        return f"{found.group(1)}.labels[{labels.index(value)}]"
    numbers = [v for v in rule.values[:j] if not isinstance(v, str)]
    return f"{found.group(1)}.values[{len(numbers)}]"


def request_field(path: str, config: StrategyConfig | None = None) -> str:
    """A StrategyConfig field path as RunBacktestRequest names it ("config. ..."); paths of
    anything else (the data a run read, e.g. "bars.close") stay as they are. With the config,
    a rule's label operands are named as the wire carries them (`label`, `labels[j]`)."""
    if path in _RENAMED:
        return f"{CONFIG}.{_RENAMED[path]}"
    root = re.split(r"[.\[]", path, maxsplit=1)[0]
    if root in _CONFIG_ROOTS:
        return f"{CONFIG}.{_operand_field(path, config)}"
    return path


def request_error(exc: QuantmeshError, config: StrategyConfig | None = None) -> QuantmeshError:
    """The same error with its config field paths named relative to the request."""
    if not exc.violations and "field" not in exc.metadata:
        return exc
    metadata = dict(exc.metadata)
    if "field" in metadata:
        metadata["field"] = request_field(metadata["field"], config)
    violations = [
        FieldViolation(request_field(v.field, config), v.description) for v in exc.violations
    ]
    return type(exc)(exc.message, reason=exc.reason, metadata=metadata, violations=violations)


# -- KPIs and records ------------------------------------------------------------------------

_OPTIONAL_KPIS = (
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "hit_rate",
    "positive_periods",
    "beta",
    "alpha",
)
_TIME_KPIS = ("drawdown_start", "drawdown_trough", "drawdown_recovery")


def kpis_to_pb(kpis: Kpis) -> pb.Kpis:
    message = pb.Kpis()
    for name, value in kpis.as_dict().items():
        if value is None:
            continue
        if name in _TIME_KPIS:
            getattr(message, name).CopyFrom(to_timestamp(value))  # type: ignore[arg-type]
        else:
            setattr(message, name, value)
    return message


def kpis_from_pb(message: pb.Kpis) -> Kpis:
    values: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if name in _TIME_KPIS:
            values[name] = optional_from_timestamp(message, name)
        elif name in _OPTIONAL_KPIS:
            values[name] = getattr(message, name) if message.HasField(name) else None
        else:
            values[name] = getattr(message, name)
    return Kpis(**values)


def _model_used_to_pb(model: ModelUsed) -> pb.ModelUsed:
    return pb.ModelUsed(
        name=model.name, version=model.version, feature_version=model.feature_version
    )


def backtest_to_pb(record: BacktestRecord) -> pb.Backtest:
    provenance = record.provenance
    message = pb.Backtest(
        name=record.name,
        id=record.id,
        operation=record.operation,
        config=config_to_pb(record.config),
        state=STATE_TO_PB[record.state],  # type: ignore[arg-type]
        progress=record.progress,
        progress_message=record.progress_message,
        feature_view=provenance.feature_view,
        feature_version=provenance.feature_version,
        create_time=to_timestamp(record.create_time),
        bar_count=record.bar_count,
        trade_count=record.trade_count,
        request_id=record.request_id,
        warnings=list(provenance.warnings),
    )
    if record.kpis is not None:
        message.kpis.CopyFrom(kpis_to_pb(record.kpis))
    if provenance.data_watermark is not None:
        message.data_watermark.CopyFrom(to_timestamp(provenance.data_watermark))
    if provenance.signal_model is not None:
        message.signal_model.CopyFrom(_model_used_to_pb(provenance.signal_model))
    if provenance.regime_model is not None:
        message.regime_model.CopyFrom(_model_used_to_pb(provenance.regime_model))
    if record.start_time is not None:
        message.start_time.CopyFrom(to_timestamp(record.start_time))
    if record.end_time is not None:
        message.end_time.CopyFrom(to_timestamp(record.end_time))
    if record.error is not None:
        message.error.CopyFrom(
            pb.BacktestError(
                code=record.error.code,
                message=record.error.message,
                reason=record.error.reason,
                fields=[request_field(f, record.config) for f in record.error.fields],
            )
        )
    return message


def _model_used_from_pb(message: pb.Backtest, name: str) -> ModelUsed | None:
    if not message.HasField(name):
        return None
    used = getattr(message, name)
    return ModelUsed(used.name, used.version, used.feature_version)


def backtest_from_pb(message: pb.Backtest) -> BacktestRecord:
    error = None
    if message.HasField("error"):
        e = message.error
        error = RunError(e.code, e.message, e.reason, tuple(e.fields))
    return BacktestRecord(
        id=message.id,
        config=config_from_pb(message.config),
        state=_enum(message.state, STATE_FROM_PB, "state"),
        create_time=from_timestamp(message.create_time),
        operation=message.operation,
        request_id=message.request_id,
        progress=message.progress,
        progress_message=message.progress_message,
        start_time=optional_from_timestamp(message, "start_time"),
        end_time=optional_from_timestamp(message, "end_time"),
        kpis=kpis_from_pb(message.kpis) if message.HasField("kpis") else None,
        provenance=Provenance(
            optional_from_timestamp(message, "data_watermark"),
            _model_used_from_pb(message, "signal_model"),
            _model_used_from_pb(message, "regime_model"),
            message.feature_view,
            message.feature_version,
            tuple(message.warnings),
        ),
        error=error,
        bar_count=message.bar_count,
        trade_count=message.trade_count,
    )


def state_to_pb(state: BacktestState | None) -> int:
    return 0 if state is None else STATE_TO_PB[state]


def state_from_pb(value: int, path: str = "state") -> BacktestState | None:
    return None if value == 0 else _enum(value, STATE_FROM_PB, path)
