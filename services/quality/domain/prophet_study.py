"""Prophet on the sessions right after its fits (walk-forward): alone and in the system."""

from __future__ import annotations

import time as clock
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency, normalize_bars
from services.quality.domain.calendar import DAY_US, calendar
from services.quality.domain.checker import run_checks
from services.quality.domain.config import (
    FeatureSpace,
    IsolationConfig,
    ModelConfig,
    ProphetConfig,
    RuleConfig,
)
from services.quality.domain.evaluation import fit_layout, flagged_rows, split_history
from services.quality.domain.injection import join_series, split_series
from services.quality.domain.isolation import POOLED_KEY
from services.quality.domain.models import ModelCache
from services.quality.domain.prophet_model import ProphetForecast, Target, fit_forecast
from services.quality.domain.sink import format_day
from services.quality.domain.training import SymbolHistory, prepare_training


@dataclass(frozen=True)
class ProphetStudy:
    """Prophet on the windows right after its fits (walk-forward), alone and in the system.

    At each cut date every symbol's Prophet models are fitted on the bars before it and forecast
    the next `horizon` sessions; those sessions are checked as they are (clean) and with one
    spike (whole bar) or one volume burst injected per symbol, with and without the Prophet
    findings (rules and the pooled forest always on). `*_low` and `*_medium` are the shares of
    rows whose residual |z| reaches the model's LOW and MEDIUM levels (ProphetConfig);
    `clean_high` counts clean rows at >= HIGH, keyed by whether Prophet was on.
    """

    cuts: list[str]
    fits: int
    fit_seconds: float
    clean_rows: int
    clean_close_low: float
    clean_close_medium: float
    clean_volume_low: float
    clean_volume_medium: float
    spike_low: float
    burst_low: float
    clean_high: dict[bool, int]
    spike_recall: dict[bool, float]
    burst_recall: dict[bool, float]
    injected: int


def _forecasts(
    series: SymbolHistory, horizon: np.ndarray, config: ProphetConfig
) -> list[ProphetForecast | None]:
    return [
        fit_forecast(series.symbol, target, series.times_us, values, horizon, config)
        for target, values in ((Target.CLOSE, series.close), (Target.VOLUME, series.volume))
    ]


def study_prophet(
    bars: pa.Table,
    *,
    cuts: int = 6,
    history_sessions: int = 250,
    config: ProphetConfig | None = None,
    seed: int = 2024,
    workers: int = 2,
) -> ProphetStudy:
    """Walk-forward study of the Prophet scores at `cuts` random dates (see ProphetStudy)."""
    config = config or ProphetConfig()
    rules = RuleConfig()
    rng = np.random.default_rng(seed)
    table = normalize_bars(bars)
    stamps = np.unique(np.asarray(table.column("time").cast(pa.int64()).to_numpy()))
    lo = max(history_sessions, config.fit_sessions // 2)
    chosen = sorted(
        rng.choice(np.arange(lo, len(stamps) - config.horizon_sessions), cuts, replace=False)
    )
    history, _, _ = split_history(table, history_sessions)
    pooled = fit_layout(history, rules, IsolationConfig())
    models = {
        with_prophet: ModelConfig(prophet=ProphetConfig(enabled=with_prophet))
        for with_prophet in (False, True)
    }
    time_us = pa.compute.cast(table.column("time"), pa.int64())
    fits, seconds = 0, 0.0
    clean_high = {False: 0, True: 0}
    found = {(kind, p): 0 for kind in ("spike", "burst") for p in (False, True)}
    z: dict[str, list[float]] = {"close": [], "volume": [], "spike": [], "burst": []}
    injected = clean_rows = 0
    now = datetime.now(UTC)
    for cut in chosen:
        start, end = int(stamps[cut]), int(stamps[cut + config.horizon_sessions - 1])
        before = table.filter(pa.compute.less(time_us, start))
        window = table.filter(
            pa.compute.and_(
                pa.compute.greater_equal(time_us, start), pa.compute.less_equal(time_us, end)
            )
        )
        cache = ModelCache()
        isolation = pooled.isolation(Frequency.DAILY, POOLED_KEY)
        if isolation is not None:
            cache.put(Frequency.DAILY, isolation)
        series = prepare_training(before, Frequency.DAILY, rules, FeatureSpace.NORMALIZED)
        horizon = calendar().sessions_after(int(stamps[cut - 1] // DAY_US), config.horizon_sessions)
        began = clock.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            forecasts = list(pool.map(_forecasts, series, repeat(horizon), repeat(config)))
        seconds += clock.perf_counter() - began
        for pair in forecasts:
            for forecast in pair:
                if forecast is not None:
                    cache.put(Frequency.DAILY, forecast)
                    fits += 1
        context = before.filter(
            pa.compute.greater_equal(
                pa.compute.cast(before.column("time"), pa.int64()),
                int(stamps[cut - rules.window - 10]),
            )
        )
        clean = split_series(window)
        spiked, bursted = split_series(window), split_series(window)
        targets: dict[str, set[tuple[str, int]]] = {"spike": set(), "burst": set()}
        for s, b in zip(spiked, bursted, strict=True):
            k = int(rng.integers(0, len(s.time)))
            size = float(np.exp(rng.uniform(np.log(0.10), np.log(0.40))))
            factor = 1 + size if rng.random() < 0.5 else 1 / (1 + size)
            for values in (s.open, s.high, s.low, s.close):
                values[k] *= factor
            b.volume[k] *= float(np.exp(rng.uniform(np.log(5.0), np.log(100.0))))
            targets["spike"].add((s.symbol, int(s.time[k])))
            targets["burst"].add((b.symbol, int(b.time[k])))
            injected += 1
            for forecast_target, name, source in (
                (Target.CLOSE, "spike", s.close),
                (Target.VOLUME, "burst", b.volume),
            ):
                forecast = cache.forecast(Frequency.DAILY, forecast_target, s.symbol)
                if forecast is not None:
                    z[name].append(
                        abs(float(forecast.z(s.time[k : k + 1] // DAY_US, source[k : k + 1])[0]))
                    )
        for s in clean:
            clean_rows += len(s.time)
            for target, name, values in (
                (Target.CLOSE, "close", s.close),
                (Target.VOLUME, "volume", s.volume),
            ):
                forecast = cache.forecast(Frequency.DAILY, target, s.symbol)
                if forecast is not None:
                    z[name] += np.abs(forecast.z(s.time // DAY_US, values)).tolist()
        for with_prophet, model_config in models.items():
            for name, data in (("clean", clean), ("spike", spiked), ("burst", bursted)):
                check_table = join_series(data)
                outcome = run_checks(
                    check_table, context, Frequency.DAILY, rules, cache, model_config, now
                )
                flagged = flagged_rows(check_table, outcome.row_severities)
                if name == "clean":
                    clean_high[with_prophet] += len(flagged)
                else:
                    found[(name, with_prophet)] += len(flagged & targets[name])

    def share(values: list[float], level: float) -> float:
        finite = np.asarray([v for v in values if np.isfinite(v)])
        return float(np.mean(finite >= level)) if len(finite) else float("nan")

    return ProphetStudy(
        cuts=[format_day(int(stamps[c])) for c in chosen],
        fits=fits,
        fit_seconds=seconds,
        clean_rows=clean_rows,
        clean_close_low=share(z["close"], config.close_levels[0]),
        clean_close_medium=share(z["close"], config.close_levels[1]),
        clean_volume_low=share(z["volume"], config.volume_levels[0]),
        clean_volume_medium=share(z["volume"], config.volume_levels[1]),
        spike_low=share(z["spike"], config.close_levels[0]),
        burst_low=share(z["burst"], config.volume_levels[0]),
        clean_high=clean_high,
        spike_recall={p: found[("spike", p)] / max(injected, 1) for p in (False, True)},
        burst_recall={p: found[("burst", p)] / max(injected, 1) for p in (False, True)},
        injected=injected,
    )
