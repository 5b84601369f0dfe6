"""StrategyConfig, KPIs and backtest records through the wire format and back."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from quantmesh.backtest.v1 import backtest_pb2 as pb
from quantmesh.common.v1 import bar_pb2

from backtest import (
    Combine,
    Costs,
    FillPrice,
    Limits,
    Operator,
    PriceField,
    Rebalance,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    SizingMethod,
    StrategyConfig,
    run_backtest_sync,
)
from backtest.config import Frequency, SignalField
from services.backtest import codec
from services.backtest.domain.records import (
    BacktestRecord,
    BacktestState,
    ModelUsed,
    Provenance,
    RunError,
)
from services.runtime.errors import InvalidArgument, NotFound
from tests.unit.backtest_service.conftest import BARS, INGESTED, sma


def everything() -> StrategyConfig:
    return StrategyConfig(
        universe=("AAA", "BBB"),
        rules=Rules(
            long_entry=RuleGroup.of(
                Rule.signal(Operator.GT, 0.6, SignalField.RANK),
                Rule.regime_in("CALM_UPTREND", "RANGE_BOUND", symbol="DJI"),
                combine=Combine.ALL,
            ),
            long_exit=RuleGroup.of(
                Rule.feature("rsi_14", Operator.GT, 70.0),
                Rule.price(PriceField.VOLATILITY, Operator.GT, 0.4, window=20),
                combine=Combine.ANY,
            ),
            short_entry=RuleGroup.of(
                Rule.sma_cross(10, 50, Operator.CROSSES_BELOW),
                Rule(Rule.regime_in("X").source, "label", Operator.EQ, "DOWNTREND"),
            ),
        ),
        name="kitchen sink",
        frequency=Frequency.DAILY,
        start=datetime(2012, 1, 1, tzinfo=UTC),
        end=datetime(2014, 1, 1, tzinfo=UTC),
        initial_cash=250_000.0,
        sizing=Sizing(SizingMethod.VOLATILITY_TARGET, None, 0.9, 0.15, 30, whole_shares=False),
        rebalance=Rebalance(RebalanceFrequency.WEEKLY, 0.02, "America/New_York"),
        costs=Costs(1.0, 0.005, 2.0),
        limits=Limits(0.4, 1.5, 0.5),
        fill=FillPrice.CLOSE,
        signal_model="alpha/3",
        regime_model="market@challenger",
        feature_view="default",
        feature_version="abc-123",
        benchmark="DJI",
        risk_free_rate=0.02,
        periods_per_year=250.0,
    )


def test_every_config_field_survives_the_wire() -> None:
    config = everything()
    wire = pb.StrategyConfig.FromString(codec.config_to_pb(config).SerializeToString())
    assert codec.config_from_pb(wire) == config
    held = dataclasses.replace(config, rebalance=Rebalance(drift_tolerance=None))
    assert codec.config_from_pb(codec.config_to_pb(held)) == held


def test_unset_fields_take_the_engines_defaults() -> None:
    message = pb.StrategyConfig(
        universe=[" aapl "],
        frequency=bar_pb2.FREQUENCY_DAILY,
        rules=pb.Rules(
            long_entry=pb.RuleGroup(
                rules=[
                    pb.Rule(source=pb.RULE_SOURCE_SIGNAL, op=pb.RULE_OPERATOR_GT, value=0.5),
                    pb.Rule(
                        source=pb.RULE_SOURCE_REGIME,
                        op=pb.RULE_OPERATOR_IN,
                        labels=["CALM_UPTREND"],
                        symbol="dji",
                    ),
                ]
            )
        ),
    )
    config = codec.config_from_pb(message)
    defaults = StrategyConfig(universe=("AAPL",), rules=config.rules)
    assert config == defaults
    signal, regime = config.rules.long_entry.rules  # type: ignore[union-attr]
    assert signal.field == "score" and signal.value == 0.5 and signal.symbol is None
    assert regime.field == "label" and regime.values == ("CALM_UPTREND",)
    assert regime.symbol == "DJI"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.ClearField("frequency"), "config.frequency"),
        (lambda m: setattr(m, "frequency", 9), "config.frequency"),
        (
            lambda m: m.rules.long_entry.rules.add(op=pb.RULE_OPERATOR_GT),
            "config.rules.long_entry.rules[0].source",
        ),
        (
            lambda m: m.rules.short_entry.rules.add(source=pb.RULE_SOURCE_PRICE),
            "config.rules.short_entry.rules[0].op",
        ),
        (
            lambda m: m.rules.long_entry.rules.add(
                source=pb.RULE_SOURCE_PRICE, op=pb.RULE_OPERATOR_IN, values=[1], labels=["A"]
            ),
            "config.rules.long_entry.rules[0].labels",
        ),
        (lambda m: setattr(m.sizing, "method", 42), "config.sizing.method"),
        (
            lambda m: m.rebalance.MergeFrom(pb.Rebalance(keep_shares=True, drift_tolerance=0.1)),
            "config.rebalance.drift_tolerance",
        ),
        (lambda m: m.signal_model.SetInParent(), "config.signal_model.name"),
    ],
)
def test_what_cannot_be_decoded_names_its_request_field(mutate: object, field: str) -> None:
    message = pb.StrategyConfig(universe=["AAA"], frequency=bar_pb2.FREQUENCY_DAILY)
    mutate(message)  # type: ignore[operator]
    with pytest.raises(InvalidArgument) as caught:
        codec.config_from_pb(message)
    assert [v.field for v in caught.value.violations] == [field]


@pytest.mark.parametrize(
    ("engine", "wire"),
    [
        ("universe[3]", "config.universe[3]"),
        ("start", "config.time_range.start"),
        ("end", "config.time_range.end"),
        ("sizing.whole_shares", "config.sizing.fractional_shares"),
        ("rules.long_exit.rules[0].value", "config.rules.long_exit.rules[0].value"),
        ("bars.close", "bars.close"),
    ],
)
def test_engine_field_paths_are_named_relative_to_the_request(engine: str, wire: str) -> None:
    assert codec.request_field(engine) == wire


def test_errors_are_renamed_without_losing_their_class_or_reason() -> None:
    error = InvalidArgument.for_field("costs.slippage_bps", "must be >= 0")
    renamed = codec.request_error(error)
    assert isinstance(renamed, InvalidArgument)
    assert [v.field for v in renamed.violations] == ["config.costs.slippage_bps"]
    plain = NotFound("no such thing")
    assert codec.request_error(plain) is plain


def test_kpis_and_records_survive_the_wire() -> None:
    kpis = run_backtest_sync(sma(), BARS).kpis
    assert codec.kpis_from_pb(codec.kpis_to_pb(kpis)) == kpis
    undefined = dataclasses.replace(kpis, sharpe=None, beta=None, drawdown_recovery=None)
    message = codec.kpis_to_pb(undefined)
    assert not message.HasField("sharpe") and not message.HasField("drawdown_recovery")
    assert codec.kpis_from_pb(message) == undefined
    record = BacktestRecord(
        id="abc",
        config=everything(),
        state=BacktestState.SUCCEEDED,
        create_time=datetime(2025, 1, 1, tzinfo=UTC),
        operation="operations/backtest/abc",
        request_id="r1",
        progress=1.0,
        progress_message="done",
        start_time=datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
        end_time=datetime(2025, 1, 1, 0, 0, 2, tzinfo=UTC),
        kpis=kpis,
        provenance=Provenance(
            INGESTED, ModelUsed("alpha", 3, "fv"), ModelUsed("market", 1, "r1"), "default", "v"
        ),
        bar_count=300,
        trade_count=12,
    )
    wire = codec.backtest_to_pb(record)
    assert wire.name == "backtests/abc" and wire.state == pb.BACKTEST_STATE_SUCCEEDED
    assert codec.backtest_from_pb(wire) == record
    failed = dataclasses.replace(
        record, state=BacktestState.FAILED, kpis=None, error=RunError("X", "m", "R", ("start",))
    )
    wire = codec.backtest_to_pb(failed)
    assert list(wire.error.fields) == ["config.time_range.start"]
    assert codec.state_from_pb(pb.BACKTEST_STATE_UNSPECIFIED) is None


def test_label_operands_are_named_as_the_wire_carries_them() -> None:
    config = everything()
    regime = "rules.long_entry.rules[1]"
    assert codec.request_field(f"{regime}.values[1]", config) == f"config.{regime}.labels[1]"
    equal = "rules.short_entry.rules[1]"
    assert codec.request_field(f"{equal}.value", config) == f"config.{equal}.label"
    numeric = "rules.long_exit.rules[0]"
    assert codec.request_field(f"{numeric}.value", config) == f"config.{numeric}.value"
    assert codec.request_field(f"{regime}.values[1]") == f"config.{regime}.values[1]"
