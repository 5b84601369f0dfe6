"""Rolling-origin evaluation of the forecast bands on a history.

Origins run from `min_history` every `origin_step` bars while the origin plus the longest
horizon stays within the history. At origin t each method sees `returns[:t]` only (the last
`lookback` of them when set, else the method's default window) and simulates the longest
horizon once; each shorter horizon reads the first h steps of the same paths. The realised
KPI over `returns[t:t + h]` is then compared with the forecast quantiles:

- coverage of a band [lo, hi]: the share of origins whose realised KPI lies within the
  forecast lo- and hi-percentiles (inclusive); a calibrated band has (hi - lo) / 100;
- pinball loss of the q-quantile: mean of max(q·(y − ŷ), (q − 1)·(y − ŷ)), lower is better;
- hit rate of the q-quantile: the share of realised values at or below it (calibrated: q).

Consecutive origins closer than the horizon share outcome bars, so coverages are averages of
dependent indicators: their sampling error is larger than a binomial one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from services.forecast.domain.bands import percentile_values
from services.forecast.domain.kpis import Kpi, path_kpis
from services.forecast.domain.methods import Method, Simulation, generator, simulate, window
from services.forecast.domain.requests import Band, CalibrationSpec
from services.runtime.errors import Cancelled

#: simulate()'s signature: method, history, paths, horizon, generator, mean block length.
Simulator = Callable[[Method, np.ndarray, int, int, np.random.Generator, float], Simulation]


@dataclass(frozen=True)
class BandCoverage:
    band: Band
    coverage: float
    mean_width: float


@dataclass(frozen=True)
class QuantileLoss:
    percentile: float
    pinball_loss: float
    hit_rate: float


@dataclass(frozen=True)
class CalibrationResult:
    """One method at one horizon for one KPI."""

    method: Method
    horizon: int
    kpi: Kpi
    origins: int
    bands: tuple[BandCoverage, ...]
    quantiles: tuple[QuantileLoss, ...]
    mean_pinball_loss: float

    def coverage(self, lower: float, upper: float) -> float:
        for entry in self.bands:
            if entry.band == Band(lower, upper):
                return entry.coverage
        raise KeyError(f"band [{lower}, {upper}] was not evaluated")


@dataclass(frozen=True)
class CalibrationReport:
    """Results ordered by method, horizon, KPI; `origins` are return indices, ascending."""

    results: tuple[CalibrationResult, ...]
    origins: tuple[int, ...]
    history_length: int

    def result(
        self, method: Method, horizon: int, kpi: Kpi = Kpi.CUMULATIVE_RETURN
    ) -> CalibrationResult:
        for entry in self.results:
            if (entry.method, entry.horizon, entry.kpi) == (method, horizon, kpi):
                return entry
        raise KeyError(f"no result for {method}, horizon {horizon}, {kpi}")


def rolling_origins(length: int, min_history: int, step: int, longest: int) -> list[int]:
    """Origins t (forecasts use returns[:t]) with t + longest <= length."""
    return list(range(min_history, length - longest + 1, step))


def pinball_loss(outcomes: np.ndarray, forecasts: np.ndarray, percentile: float) -> float:
    """Mean pinball loss of the `percentile` quantile forecasts against the outcomes."""
    q = percentile / 100.0
    diff = outcomes - forecasts
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def evaluate_calibration(
    returns: np.ndarray,
    spec: CalibrationSpec,
    origins: Sequence[int],
    simulator: Simulator = simulate,
    should_stop: Callable[[], bool] | None = None,
) -> CalibrationReport:
    """Forecast at every origin from the returns before it and score the bands (module doc)."""
    returns = np.asarray(returns, dtype=np.float64)
    sim = spec.simulating
    levels = spec.evaluated_percentiles
    longest = spec.horizons[-1]
    if not origins:
        raise ValueError("no origins to evaluate")
    if origins[-1] + longest > len(returns) or origins[0] < 1:
        raise ValueError("origins must leave the longest horizon inside the history")
    n = len(origins)
    # forecasts[method][horizon][kpi]: origins x levels; outcomes[horizon][kpi]: origins
    forecasts = {
        m: {h: {k: np.empty((n, len(levels))) for k in spec.kpis} for h in spec.horizons}
        for m in sim.methods
    }
    outcomes = {h: {k: np.empty(n) for k in spec.kpis} for h in spec.horizons}
    for i, origin in enumerate(origins):
        if should_stop is not None and should_stop():
            raise Cancelled("the calibration was cancelled")
        before = returns[:origin]
        for h in spec.horizons:
            realised = path_kpis(returns[origin : origin + h], sim.periods_per_year)
            for k in spec.kpis:
                outcomes[h][k][i] = realised[k][0]
        for method in sim.methods:
            rng = generator(sim.seed, method, origin)
            history = window(before, method, sim.lookback)
            paths = simulator(method, history, sim.paths, longest, rng, sim.mean_block_length)
            for h in spec.horizons:
                simulated = path_kpis(paths.returns[:, :h], sim.periods_per_year)
                for k in spec.kpis:
                    forecasts[method][h][k][i] = percentile_values(simulated[k], levels)
    results = []
    for method in sim.methods:
        for h in spec.horizons:
            for k in spec.kpis:
                results.append(_score(method, h, k, forecasts[method][h][k], outcomes[h][k],
                                      levels, spec.bands))  # fmt: skip
    return CalibrationReport(tuple(results), tuple(origins), len(returns))


def _score(
    method: Method,
    horizon: int,
    kpi: Kpi,
    quantiles: np.ndarray,
    outcomes: np.ndarray,
    levels: tuple[float, ...],
    bands: tuple[Band, ...],
) -> CalibrationResult:
    column = {p: j for j, p in enumerate(levels)}
    coverages = []
    for band in bands:
        lower, upper = quantiles[:, column[band.lower]], quantiles[:, column[band.upper]]
        inside = (outcomes >= lower) & (outcomes <= upper)
        coverages.append(BandCoverage(band, float(inside.mean()), float(np.mean(upper - lower))))
    losses = tuple(
        QuantileLoss(
            percentile=p,
            pinball_loss=pinball_loss(outcomes, quantiles[:, j], p),
            hit_rate=float(np.mean(outcomes <= quantiles[:, j])),
        )
        for j, p in enumerate(levels)
    )
    return CalibrationResult(
        method=method,
        horizon=horizon,
        kpi=kpi,
        origins=len(outcomes),
        bands=tuple(coverages),
        quantiles=losses,
        mean_pinball_loss=float(np.mean([q.pinball_loss for q in losses])),
    )
