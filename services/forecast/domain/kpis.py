"""KPIs of simulated return paths, vectorized over paths.

A path matrix holds simple per-bar returns, one row per path and one column per step. Every KPI
here maps such a matrix (n paths x h steps) to one value per path, so bands are percentiles
across rows. A single realised path is the same computation on a 1 x h matrix.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

#: Bars per year of daily data, the Sharpe ratio's default annualisation.
DAILY_PERIODS_PER_YEAR = 252


class Kpi(StrEnum):
    CUMULATIVE_RETURN = "cumulative_return"
    MAX_DRAWDOWN = "max_drawdown"
    SHARPE = "sharpe"

    @classmethod
    def parse(cls, value: str) -> Kpi:
        return cls(value.strip().lower())


#: Every KPI, in the order responses list them.
ALL_KPIS: tuple[Kpi, ...] = (Kpi.CUMULATIVE_RETURN, Kpi.MAX_DRAWDOWN, Kpi.SHARPE)


def as_paths(returns: np.ndarray) -> np.ndarray:
    """`returns` as a float64 (paths x steps) matrix; a 1-D series is one path."""
    paths = np.asarray(returns, dtype=np.float64)
    if paths.ndim == 1:
        paths = paths[None, :]
    if paths.ndim != 2 or paths.shape[1] == 0:
        raise ValueError(f"expected a (paths x steps) matrix with steps >= 1, got {paths.shape}")
    return paths


def cumulative_paths(returns: np.ndarray) -> np.ndarray:
    """Cumulative return after each step: cumprod(1 + r) - 1, same shape as the paths."""
    paths = as_paths(returns)
    return np.asarray(np.cumprod(1.0 + paths, axis=1) - 1.0)


def cumulative_return(returns: np.ndarray) -> np.ndarray:
    """Compounded return over each path: prod(1 + r) - 1."""
    return np.asarray(np.prod(1.0 + as_paths(returns), axis=1) - 1.0)


def max_drawdown(returns: np.ndarray) -> np.ndarray:
    """Largest fall from the running peak of each path's equity, as a positive fraction.

    The equity starts at 1 before the first return, and that start counts as a peak: a path
    that only falls has the drawdown of its lowest point against 1.
    """
    equity = np.cumprod(1.0 + as_paths(returns), axis=1)
    peak = np.maximum(np.maximum.accumulate(equity, axis=1), 1.0)
    return np.asarray(np.max(1.0 - equity / peak, axis=1))


def sharpe(returns: np.ndarray, periods_per_year: int = DAILY_PERIODS_PER_YEAR) -> np.ndarray:
    """Annualised Sharpe ratio of each path's returns (risk-free rate 0).

    mean / std (ddof 1) x sqrt(periods_per_year); 0 where the path has a single step or no
    dispersion (a constant path has no meaningful ratio, and NaN would poison percentiles).
    """
    paths = as_paths(returns)
    if paths.shape[1] < 2:
        return np.zeros(paths.shape[0])
    mean = paths.mean(axis=1)
    std = paths.std(axis=1, ddof=1)
    scale = np.maximum(np.abs(mean), 1e-300)
    flat = std <= 1e-12 * scale  # rounding noise of a constant path is not dispersion
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(flat, 0.0, mean / np.where(flat, 1.0, std))
    return np.asarray(ratio * np.sqrt(periods_per_year))


def path_kpis(
    returns: np.ndarray, periods_per_year: int = DAILY_PERIODS_PER_YEAR
) -> dict[Kpi, np.ndarray]:
    """Every KPI of every path."""
    return {
        Kpi.CUMULATIVE_RETURN: cumulative_return(returns),
        Kpi.MAX_DRAWDOWN: max_drawdown(returns),
        Kpi.SHARPE: sharpe(returns, periods_per_year),
    }
