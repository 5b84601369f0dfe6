"""Protobuf <-> regime domain, shared by the servicer and the client."""

from __future__ import annotations

from quantmesh.regime.v1 import regime_pb2 as pb

from services.regime.domain.cache import CacheState
from services.regime.domain.change_log import RegimeChangeBatch
from services.regime.domain.model import RegimeModel
from services.regime.domain.regimes import REGIMES, Regime
from services.runtime.time_convert import to_time_range, to_timestamp

_REGIME = {
    Regime.CALM_UPTREND: pb.REGIME_CALM_UPTREND,
    Regime.RANGE_BOUND: pb.REGIME_RANGE_BOUND,
    Regime.DOWNTREND: pb.REGIME_DOWNTREND,
    Regime.HIGH_VOL_STRESS: pb.REGIME_HIGH_VOL_STRESS,
}
REGIME_FROM_PB = {v: k for k, v in _REGIME.items()}
_CACHE_STATE = {
    CacheState.HEALTHY: pb.CACHE_STATE_HEALTHY,
    CacheState.DEGRADED: pb.CACHE_STATE_DEGRADED,
    CacheState.DISABLED: pb.CACHE_STATE_DISABLED,
}


def regime_to_pb(regime: Regime | int) -> pb.Regime:
    """The contract's enum value; unspecified for 0 ("no regime")."""
    return _REGIME[Regime(int(regime))] if regime else pb.REGIME_UNSPECIFIED


def probabilities_to_pb(probabilities: tuple[float, ...]) -> list[pb.RegimeProbability]:
    return [
        pb.RegimeProbability(regime=regime_to_pb(r), probability=p)
        for r, p in zip(REGIMES, probabilities, strict=True)
    ]


def model_to_pb(model: RegimeModel) -> pb.RegimeModel:
    fit = model.fit
    message = pb.RegimeModel(
        name=model.name,
        version=model.version,
        symbols=list(fit.symbols),
        training_window=to_time_range(fit.train_start, fit.train_end),
        feature_version=fit.feature_version,
        fitted_at=to_timestamp(model.fitted_at),
        aliases=list(model.aliases),
        warmup_bars=fit.warmup_bars,
        median_duration_sessions=fit.median_duration,
        regime_shares=fit.shares,
        switch_probability=fit.switch_probability,
    )
    if model.data_watermark is not None:
        message.data_watermark.CopyFrom(to_timestamp(model.data_watermark))
    return message


def changes_to_pb(
    batch: RegimeChangeBatch, model_name: str, model_version: int, snapshot: bool = False
) -> pb.RegimeChanges:
    return pb.RegimeChanges(
        changes=[
            pb.RegimeChange(
                symbol=c.symbol,
                bar_time=to_timestamp(c.bar_time),
                regime=regime_to_pb(c.regime),
                previous=regime_to_pb(c.previous),
                probabilities=probabilities_to_pb(c.probabilities),
            )
            for c in batch.changes
        ],
        model_name=model_name,
        model_version=model_version,
        snapshot=snapshot,
    )


def cache_state_to_pb(state: CacheState) -> pb.CacheState:
    return _CACHE_STATE[state]
