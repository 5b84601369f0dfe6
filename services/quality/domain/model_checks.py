"""Findings from the cached learned models: Isolation Forest and Prophet residuals.

A learned score says at most MEDIUM on its own (`ModelConfig.model_cap`): it adds evidence to a
row's combined score but does not page anyone by itself. On a bar that looks like a genuine
market move (a large return on heavy volume) it says at most LOW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.calendar import day_numbers
from services.quality.domain.config import FeatureSpace, IsolationMode, ModelConfig, RuleConfig
from services.quality.domain.features import Normalized, RawFeatures
from services.quality.domain.findings import Check, Severity, capped, graded
from services.quality.domain.isolation import POOLED_KEY, IsolationModel
from services.quality.domain.models import ModelCache
from services.quality.domain.panel import Panel
from services.quality.domain.prophet_model import Target
from services.quality.domain.rules_outliers import confirming_volume
from services.quality.domain.sink import FindingSink, format_day

_GENUINE = "; the bar looks like a genuine market move (large return on heavy volume)"


@dataclass(frozen=True)
class ModelUsage:
    """How many batch rows the learned models scored; the batch symbols without a Prophet
    forecast for their bars (not fitted yet, or past the forecast horizon)."""

    isolation_rows: int = 0
    prophet_rows: int = 0
    without_forecast: tuple[str, ...] = ()


def genuine_moves(norm: Normalized, rules: RuleConfig) -> np.ndarray:
    """Per target: a large return confirmed by heavy volume."""
    with np.errstate(invalid="ignore"):
        large = np.abs(norm.z_ret) >= rules.explain_return_z
        return np.asarray(large & (norm.volume_ratio >= confirming_volume(norm.z_ret, rules)))


def isolation_matrix(raw: RawFeatures, norm: Normalized, space: FeatureSpace) -> np.ndarray:
    """The targets' model features in `space` (rows x 4)."""
    if space is FeatureSpace.NORMALIZED:
        return norm.matrix()
    i = norm.index
    return np.column_stack([raw.ret[i], raw.gap[i], raw.log_range[i], raw.log_volume[i]])


def isolation_scores(
    panel: Panel,
    raw: RawFeatures,
    norm: Normalized,
    cache: ModelCache,
    frequency: Frequency,
    config: ModelConfig,
) -> tuple[np.ndarray, list[IsolationModel | None]]:
    """Anomaly score per target (NaN where no model) and the model used per target."""
    iso = config.isolation
    scores = np.full(len(norm.index), np.nan)
    used: list[IsolationModel | None] = [None] * len(norm.index)
    x = isolation_matrix(raw, norm, iso.features)
    if iso.mode is IsolationMode.POOLED:
        model = cache.isolation(frequency, POOLED_KEY)
        if model is not None and model.features is iso.features:
            scores = model.anomaly(x)
            used = [model] * len(scores)
        return scores, used
    groups = panel.group[norm.index]
    for g in np.unique(groups):
        model = cache.isolation(frequency, panel.symbols[g])
        if model is None or model.features is not iso.features:
            continue
        members = np.flatnonzero(groups == g)
        scores[members] = model.anomaly(x[members])
        for k in members:
            used[k] = model
    return scores, used


def check_isolation(
    panel: Panel,
    raw: RawFeatures,
    norm: Normalized,
    cache: ModelCache,
    frequency: Frequency,
    config: ModelConfig,
    genuine: np.ndarray,
    sink: FindingSink,
) -> int:
    """Isolation Forest findings; returns the number of rows scored."""
    scores, used = isolation_scores(panel, raw, norm, cache, frequency, config)
    x = isolation_matrix(raw, norm, config.isolation.features)
    for k in np.flatnonzero(np.isfinite(scores)):
        model = used[k]
        assert model is not None
        severity, score = graded(float(scores[k]), model.levels())
        if severity is Severity.NONE:
            continue
        severity, score = capped(severity, score, config.model_cap)
        feature, z = model.most_unusual(x[k])
        layout = "pooled" if model.key == POOLED_KEY else "per-symbol"
        text = (
            f"{layout} forest: anomaly {scores[k]:.3f} ≥ alert {model.alert_level:.3f} "
            f"(training max {model.top_level:.3f} over {model.rows:,} bars); most unusual: "
            f"{feature} ({z:+.1f} σ of training)"
        )
        if genuine[k]:
            severity, score = capped(severity, score, Severity.LOW)
            text += _GENUINE
        sink.add(panel.row[norm.index[k]], Check.ISOLATION_FOREST, severity, score, text)
    return int(np.isfinite(scores).sum())


def check_prophet(
    panel: Panel,
    norm: Normalized,
    cache: ModelCache,
    frequency: Frequency,
    config: ModelConfig,
    genuine: np.ndarray,
    sink: FindingSink,
) -> tuple[int, set[int]]:
    """Prophet residual findings; returns rows scored and the groups with a forecast."""
    scored = np.zeros(len(norm.index), dtype=bool)
    with_model: set[int] = set()
    groups = panel.group[norm.index]
    days = day_numbers(panel.time[norm.index])
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        for target, check in (
            (Target.CLOSE, Check.PROPHET_CLOSE),
            (Target.VOLUME, Check.PROPHET_VOLUME),
        ):
            forecast = cache.forecast(frequency, target, panel.symbols[g])
            if forecast is None:
                continue
            with_model.add(int(g))
            source = panel.close if target is Target.CLOSE else panel.volume
            values = source[norm.index[members]]
            z = forecast.z(days[members], values)
            scored[members[np.isfinite(z)]] = True
            for j, (m, zk) in enumerate(zip(members, z, strict=True)):
                levels = (
                    config.prophet.close_levels
                    if target is Target.CLOSE
                    else config.prophet.volume_levels
                )
                severity, score = graded(abs(float(zk)), levels)
                if severity is Severity.NONE:
                    continue
                severity, score = capped(severity, score, config.model_cap)
                position = int(np.searchsorted(forecast.days, days[m]))
                expected = float(np.exp(forecast.yhat[position]))
                text = (
                    f"{target.value} {values[j]:,.4g} vs forecast {expected:,.4g}: "
                    f"residual z {zk:+.1f} (fitted on {forecast.rows} bars to "
                    f"{format_day(forecast.data_end_us)})"
                )
                if genuine[m]:
                    severity, score = capped(severity, score, Severity.LOW)
                    text += _GENUINE
                sink.add(panel.row[norm.index[m]], check, severity, score, text)
    return int(scored.sum()), with_model
