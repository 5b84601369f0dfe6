"""One forecast: simulate a method's paths from the history and read its bands off them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from services.forecast.domain.bands import KpiBands, kpi_bands, path_bands
from services.forecast.domain.calibration import Simulator
from services.forecast.domain.kpis import Kpi
from services.forecast.domain.methods import Method, generator, simulate, window
from services.forecast.domain.requests import ForecastSpec


@dataclass(frozen=True, eq=False)
class MethodForecast:
    """One method's bands: every KPI, and the cumulative return per step (percentiles x h)."""

    method: Method
    kpis: tuple[KpiBands, ...]
    path_bands: np.ndarray
    paths: int
    mean_block_length: float
    detail: str
    returns_used: int

    def kpi(self, kpi: Kpi) -> KpiBands:
        for bands in self.kpis:
            if bands.kpi is kpi:
                return bands
        raise KeyError(f"no bands for {kpi}")


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """One forecast per requested method, in the request's order."""

    forecasts: tuple[MethodForecast, ...]
    horizon: int
    percentiles: tuple[float, ...]
    history_length: int
    origin_time: datetime | None = None

    def forecast(self, method: Method) -> MethodForecast:
        for entry in self.forecasts:
            if entry.method is method:
                return entry
        raise KeyError(f"no forecast by {method}")


def forecast_method(
    method: Method, returns: np.ndarray, spec: ForecastSpec, simulator: Simulator = simulate
) -> MethodForecast:
    """Simulate `method`'s paths from the latest `returns` (its window, or `lookback`)."""
    sim = spec.simulating
    history = window(returns, method, sim.lookback)
    paths = simulator(
        method, history, sim.paths, spec.horizon, generator(sim.seed, method), sim.mean_block_length
    )
    return MethodForecast(
        method=method,
        kpis=kpi_bands(paths.returns, spec.percentiles, sim.periods_per_year),
        path_bands=path_bands(paths.returns, spec.percentiles),
        paths=sim.paths,
        mean_block_length=paths.mean_block_length,
        detail=paths.detail,
        returns_used=len(history),
    )
