"""Bands are monotone in the percentile, and consistent between KPI and path bands."""

from __future__ import annotations

import numpy as np
import pytest

from services.forecast.domain.bands import kpi_bands, path_bands
from services.forecast.domain.kpis import Kpi

PERCENTILES = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)


@pytest.fixture
def paths() -> np.ndarray:
    return np.random.default_rng(11).standard_t(4, size=(1_000, 40)) * 0.01


def test_kpi_bands_never_decrease_with_the_percentile(paths: np.ndarray) -> None:
    for bands in kpi_bands(paths, PERCENTILES, 252):
        assert np.all(np.diff(bands.values) >= 0), bands.kpi
        assert bands.percentiles.tolist() == list(PERCENTILES)
        assert bands.at(50.0) == bands.values[3]


def test_path_bands_are_monotone_at_every_step(paths: np.ndarray) -> None:
    bands = path_bands(paths, PERCENTILES)
    assert bands.shape == (len(PERCENTILES), 40)
    assert np.all(np.diff(bands, axis=0) >= 0)
    # the spread of the cumulative return widens as the horizon grows
    assert bands[-1, -1] - bands[0, -1] > bands[-1, 0] - bands[0, 0]


def test_the_last_step_of_the_path_bands_is_the_cumulative_return_band(paths: np.ndarray) -> None:
    [cumulative] = kpi_bands(paths, PERCENTILES, 252, kpis=[Kpi.CUMULATIVE_RETURN])
    assert path_bands(paths, PERCENTILES)[:, -1] == pytest.approx(cumulative.values)
    assert cumulative.mean == pytest.approx(float(np.mean(np.prod(1 + paths, axis=1) - 1)))


def test_drawdown_bands_lie_in_zero_to_one(paths: np.ndarray) -> None:
    [drawdown] = kpi_bands(paths, PERCENTILES, 252, kpis=[Kpi.MAX_DRAWDOWN])
    assert drawdown.values[0] >= 0.0 and drawdown.values[-1] < 1.0
