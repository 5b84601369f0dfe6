"""The forecast methods: each turns a history of returns into simulated return paths."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from services.forecast.domain.bootstrap import politis_white_block_length, stationary_bootstrap
from services.forecast.domain.model_based import (
    PROPHET_WINDOW,
    prophet_paths,
    quantile_regression_paths,
)


class Method(StrEnum):
    BOOTSTRAP = "bootstrap"
    QUANTILE_REGRESSION = "quantile_regression"
    PROPHET = "prophet"

    @classmethod
    def parse(cls, value: str) -> Method:
        return cls(value.strip().lower())


#: Returns each method simulates from when a request sets no `lookback` (None: all of them).
#: On the Dow stocks (docs/benchmarks.md, "Forecast calibration") the bootstrap's 80% band
#: covered ~90% of outcomes with the whole history (2009's turbulence kept the bands wide for
#: years) and ~83% with the last two years; quantile regression conditions on the current
#: volatility and calibrated best with every return it could learn from.
DEFAULT_WINDOWS: dict[Method, int | None] = {
    Method.BOOTSTRAP: 504,
    Method.QUANTILE_REGRESSION: None,
    Method.PROPHET: PROPHET_WINDOW,
}


def window(history: np.ndarray, method: Method, lookback: int) -> np.ndarray:
    """The latest returns `method` simulates from: `lookback` of them, or its default window."""
    size = lookback or DEFAULT_WINDOWS[method]
    return history if size is None else history[-size:]


#: Stable numbers that make each method's random stream independent of the others asked with it.
_STREAM = {Method.BOOTSTRAP: 1, Method.QUANTILE_REGRESSION: 2, Method.PROPHET: 3}


def generator(seed: int, method: Method, *more: int) -> np.random.Generator:
    """The random generator of one method (and origin, in calibrations) under one seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAM[method], *more]))


@dataclass(frozen=True, eq=False)
class Simulation:
    """Simulated simple returns (paths x horizon) and what the method fitted."""

    returns: np.ndarray
    detail: str
    mean_block_length: float = 0.0


def simulate(
    method: Method,
    history: np.ndarray,
    paths: int,
    horizon: int,
    rng: np.random.Generator,
    mean_block_length: float = 0.0,
) -> Simulation:
    """Paths from `history` (oldest first) only; `mean_block_length` 0 picks it (bootstrap)."""
    if method is Method.BOOTSTRAP:
        automatic = mean_block_length <= 0
        block = politis_white_block_length(history) if automatic else mean_block_length
        how = "Politis–White" if automatic else "requested"
        return Simulation(
            stationary_bootstrap(history, paths, horizon, block, rng),
            f"stationary bootstrap of {len(history)} returns, mean block length {block:.2f} "
            f"({how})",
            block,
        )
    if method is Method.QUANTILE_REGRESSION:
        simulated, detail = quantile_regression_paths(history, paths, horizon, rng)
        return Simulation(simulated, detail)
    if method is Method.PROPHET:
        simulated, detail = prophet_paths(history, paths, horizon, rng)
        return Simulation(simulated, detail)
    raise ValueError(f"unknown method {method!r}")
