"""The demo's trading stages: a signal-plus-regime strategy against buy-and-hold on the backtest
service, then the strategy's KPI bands and their calibration from the forecast service.

The sessions are split in time: the signal and regime models are fitted on the first
`TRAINING_SHARE` of them and both strategies trade only after, with a gap of `EMBARGO_SESSIONS`
(the label's horizon), so every number the demo reports is out of sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from backtest.config import (
    Combine,
    Costs,
    Operator,
    PriceField,
    Rebalance,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    Rules,
    SignalField,
    StrategyConfig,
)
from backtest.kpis import Kpis
from services.backtest.domain.records import BacktestRecord, ModelUsed
from services.clients.mesh import MeshClient
from services.forecast.domain.forecasting import ForecastResult
from services.forecast.domain.kpis import ALL_KPIS
from services.forecast.domain.methods import Method
from services.forecast.domain.requests import Band, CalibrationRequest, ForecastRequest

#: Share of the sessions the models learn from; the backtests trade the rest.
TRAINING_SHARE = 0.6
#: Sessions between the training window's end and the first traded bar: the label looks five
#: sessions ahead, so the last training labels overlap these.
EMBARGO_SESSIONS = 5
#: The strategy holds names whose score ranks in the top (1 - ENTRY_RANK) of the universe...
ENTRY_RANK = 0.7
#: ... while their own regime is one of these; a holding is sold when its rank falls below
#: EXIT_RANK (the gap keeps a name near the threshold from churning) or its regime leaves them.
TRADABLE_REGIMES = ("CALM_UPTREND", "RANGE_BOUND")
EXIT_RANK = 0.5
STRESSED_REGIMES = ("DOWNTREND", "HIGH_VOL_STRESS")
COSTS = Costs(commission_bps=5.0, slippage_bps=2.0)
FORECAST_HORIZON = 60
FORECAST_METHODS = (Method.BOOTSTRAP, Method.QUANTILE_REGRESSION)
FORECAST_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
CALIBRATION_HORIZON = 20
CALIBRATION_STEP = 10
#: Fewest rolling origins worth reporting a coverage from.
MIN_ORIGINS = 5


@dataclass(frozen=True)
class Split:
    """Where training ends and trading starts."""

    train_end: datetime
    trade_start: datetime
    trade_end: datetime


def split_sessions(days: list[datetime]) -> Split | None:
    """The time split of `days` (sorted sessions), or None when too short to trade after."""
    cut = int(len(days) * TRAINING_SHARE)
    if cut < 1 or cut + EMBARGO_SESSIONS >= len(days) - 20:
        return None
    return Split(days[cut - 1], days[cut + EMBARGO_SESSIONS], days[-1])


def strategies(
    universe: tuple[str, ...], split: Split, signal_model: str, regime_model: str
) -> dict[str, StrategyConfig]:
    """The signal-plus-regime strategy and buy-and-hold of the same universe, same costs."""
    common = {
        "universe": universe,
        "start": split.trade_start,
        "end": split.trade_end,
        "costs": COSTS,
    }
    ranked = Rule.signal(Operator.GE, ENTRY_RANK, field=SignalField.RANK)
    calm = Rule.regime_in(*TRADABLE_REGIMES)
    fallen = Rule.signal(Operator.LT, EXIT_RANK, field=SignalField.RANK)
    stressed = Rule.regime_in(*STRESSED_REGIMES)
    return {
        "signal_regime": StrategyConfig(
            name="demo_signal_regime",
            rules=Rules(
                long_entry=RuleGroup.of(ranked, calm),
                long_exit=RuleGroup.of(fallen, stressed, combine=Combine.ANY),
            ),
            rebalance=Rebalance(RebalanceFrequency.WEEKLY, drift_tolerance=0.02),
            signal_model=f"{signal_model}@champion",
            regime_model=regime_model,
            **common,  # type: ignore[arg-type]
        ),
        "buy_and_hold": StrategyConfig(
            name="demo_buy_and_hold",
            rules=Rules(long_entry=RuleGroup.of(Rule.price(PriceField.CLOSE, Operator.GT, 0.0))),
            rebalance=Rebalance(drift_tolerance=None),
            **common,  # type: ignore[arg-type]
        ),
    }


async def backtest_stage(
    mesh: MeshClient, universe: tuple[str, ...], split: Split, signal_model: str, regime_model: str
) -> dict[str, Any]:
    """Run both strategies over gRPC; their KPIs, provenance and equity curves."""
    results: dict[str, Any] = {}
    for key, config in strategies(universe, split, signal_model, regime_model).items():
        record = await mesh.backtest.run_and_wait(config)
        equity = await mesh.backtest.stream_equity(record.name)
        results[key] = _describe(record, equity)
    return {
        "universe": list(universe),
        "train_end": split.train_end.date().isoformat(),
        "trade_start": split.trade_start.date().isoformat(),
        "trade_end": split.trade_end.date().isoformat(),
        "rule": (
            f"long the names whose signal ranks >= {ENTRY_RANK:.0%} of the universe while their "
            f"own regime is {' or '.join(r.lower() for r in TRADABLE_REGIMES)}, sold when the "
            f"rank falls below {EXIT_RANK:.0%} or the regime turns "
            f"{' or '.join(r.lower() for r in STRESSED_REGIMES)}; equal weight, weekly rebalance"
        ),
        "costs": f"{COSTS.commission_bps:g} bps commission, {COSTS.slippage_bps:g} bps slippage",
        "runs": results,
    }


def _describe(record: BacktestRecord, equity: pa.Table) -> dict[str, Any]:
    provenance = record.provenance
    return {
        "id": record.name,
        "strategy": record.config.name,
        "kpis": _kpis(record.kpis),
        "signal_model": _model(provenance.signal_model),
        "regime_model": _model(provenance.regime_model),
        "data_watermark": provenance.data_watermark,
        "warnings": list(provenance.warnings),
        "equity": {
            "times": equity.column("time").to_pylist(),
            "equity": equity.column("equity").to_pylist(),
        },
    }


def _kpis(kpis: Kpis | None) -> dict[str, Any]:
    return {} if kpis is None else kpis.as_dict()


def _model(used: ModelUsed | None) -> str | None:
    return None if used is None else used.ref


async def forecast_stage(mesh: MeshClient, backtest: str, returns: int) -> dict[str, Any]:
    """The strategy's KPI bands over the next sessions, per method, and how well such bands
    covered the strategy's own history (rolling origins)."""
    result = await mesh.forecast.forecast_kpis(
        ForecastRequest(
            backtest_id=backtest,
            horizon=FORECAST_HORIZON,
            percentiles=FORECAST_PERCENTILES,
            methods=FORECAST_METHODS,
            seed=7,
        )
    )
    return {
        "backtest": backtest,
        "horizon": result.horizon,
        "percentiles": list(result.percentiles),
        "methods": _bands(result),
        "calibration": await _calibration(mesh, backtest, returns),
    }


def _bands(result: ForecastResult) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    for forecast in result.forecasts:
        methods[forecast.method.value] = {
            "kpis": {
                bands.kpi.value: dict(
                    zip(
                        (f"p{p:g}" for p in bands.percentiles),
                        (float(v) for v in bands.values),
                        strict=True,
                    )
                )
                for bands in forecast.kpis
            },
            "path_bands": np.asarray(forecast.path_bands).tolist(),
            "paths": forecast.paths,
            "returns_used": forecast.returns_used,
        }
    return methods


async def _calibration(mesh: MeshClient, backtest: str, returns: int) -> dict[str, Any]:
    """Coverage of the 80% and 50% bands of cumulative return at CALIBRATION_HORIZON."""
    min_history = min(252, returns // 2)
    origins = (returns - min_history - CALIBRATION_HORIZON) // CALIBRATION_STEP + 1
    if origins < MIN_ORIGINS:
        return {"skipped": f"{returns} returns give {max(origins, 0)} rolling origins"}
    report = await mesh.forecast.evaluate_calibration(
        CalibrationRequest(
            backtest_id=backtest,
            horizons=(CALIBRATION_HORIZON,),
            methods=FORECAST_METHODS,
            bands=(Band(10, 90), Band(25, 75)),
            kpis=(ALL_KPIS[0],),
            min_history=min_history,
            origin_step=CALIBRATION_STEP,
            paths=500,
            seed=7,
        )
    )
    return {
        "horizon": CALIBRATION_HORIZON,
        "origins": len(report.origins),
        "methods": {
            entry.method.value: {
                "coverage_80": entry.coverage(10, 90),
                "coverage_50": entry.coverage(25, 75),
                "mean_pinball_loss": entry.mean_pinball_loss,
            }
            for entry in report.results
        },
    }
