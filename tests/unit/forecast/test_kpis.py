"""KPI math against values worked out by hand, and vectorization over paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.forecast.domain.kpis import (
    cumulative_paths,
    cumulative_return,
    max_drawdown,
    path_kpis,
    sharpe,
)

PATH = [0.10, -0.20, 0.05]  # equity 1.10, 0.88, 0.924


def test_cumulative_return_compounds() -> None:
    assert cumulative_return(np.array(PATH))[0] == pytest.approx(1.10 * 0.80 * 1.05 - 1)  # -0.076
    assert cumulative_paths(np.array(PATH))[0] == pytest.approx([0.10, -0.12, -0.076])


def test_max_drawdown_is_the_largest_fall_from_the_running_peak() -> None:
    assert max_drawdown(np.array(PATH))[0] == pytest.approx(1 - 0.88 / 1.10)  # 0.2
    # the starting equity counts as a peak: only falling loses against 1
    assert max_drawdown(np.array([-0.1, -0.1]))[0] == pytest.approx(0.19)
    assert max_drawdown(np.array([0.01, 0.02, 0.03]))[0] == 0.0
    # a later, deeper fall from a new peak wins over an earlier one
    assert max_drawdown(np.array([-0.1, 0.5, -0.3]))[0] == pytest.approx(0.3)


def test_sharpe_is_annualised_mean_over_sample_deviation() -> None:
    mean = (0.10 - 0.20 + 0.05) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in PATH) / 2)
    assert sharpe(np.array(PATH))[0] == pytest.approx(mean / std * math.sqrt(252))
    assert sharpe(np.array(PATH), periods_per_year=12)[0] == pytest.approx(
        mean / std * math.sqrt(12)
    )


def test_degenerate_paths_have_a_sharpe_of_zero() -> None:
    assert sharpe(np.array([0.01]))[0] == 0.0  # one step: no deviation to speak of
    assert sharpe(np.full(20, 0.003))[0] == 0.0  # no dispersion
    assert sharpe(np.zeros(5))[0] == 0.0


def test_kpis_are_computed_per_path() -> None:
    paths = np.array([PATH, [-0.1, -0.1, 0.0], [0.01, 0.02, 0.03]])
    kpis = path_kpis(paths)
    for i, row in enumerate(paths):
        single = path_kpis(row)
        for kpi, values in kpis.items():
            assert values.shape == (3,)
            assert values[i] == pytest.approx(single[kpi][0])
