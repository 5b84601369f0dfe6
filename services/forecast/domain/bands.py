"""Percentile bands read off simulated paths: KPI bands and per-step path bands.

Percentiles are in (0, 100). Values come from numpy's linear interpolation between order
statistics, so for a fixed set of paths every band is non-decreasing in its percentile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.forecast.domain.kpis import ALL_KPIS, Kpi, cumulative_paths, path_kpis

DEFAULT_PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)


@dataclass(frozen=True, eq=False)
class KpiBands:
    """The forecast distribution of one KPI: a value per percentile, and the mean."""

    kpi: Kpi
    percentiles: np.ndarray
    values: np.ndarray
    mean: float

    def at(self, percentile: float) -> float:
        """The value at one of the band's percentiles."""
        index = np.flatnonzero(np.isclose(self.percentiles, percentile))
        if len(index) == 0:
            raise KeyError(f"percentile {percentile} is not among {self.percentiles.tolist()}")
        return float(self.values[index[0]])


def percentile_values(samples: np.ndarray, percentiles: Sequence[float] | np.ndarray) -> np.ndarray:
    """Percentiles of `samples` along the first axis (one row per requested percentile)."""
    return np.asarray(np.percentile(samples, np.asarray(percentiles, dtype=np.float64), axis=0))


def kpi_bands(
    returns: np.ndarray,
    percentiles: Sequence[float],
    periods_per_year: int,
    kpis: Sequence[Kpi] = ALL_KPIS,
) -> tuple[KpiBands, ...]:
    """Bands of each KPI over the simulated paths (n paths x horizon)."""
    values = path_kpis(returns, periods_per_year)
    chosen = np.asarray(percentiles, dtype=np.float64)
    return tuple(
        KpiBands(
            kpi=kpi,
            percentiles=chosen,
            values=percentile_values(values[kpi], chosen),
            mean=float(values[kpi].mean()),
        )
        for kpi in kpis
    )


def path_bands(returns: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """Per-step percentiles of the cumulative return: (percentiles x horizon)."""
    return percentile_values(cumulative_paths(returns), percentiles)
