"""Quantile regression agrees with the exact (linear programming) fit; the simulated paths
have the spread the data imply; Prophet's paths are seeded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import QuantileRegressor

from services.forecast.domain.model_based import (
    EWMA_LAMBDA,
    ewma_volatility,
    fit_quantile_model,
    prophet_paths,
    simulate_quantile_model,
    smoothed_quantile_regression,
)


def test_smoothed_quantile_regression_matches_the_exact_fit() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.005, 0.03, 1_500)
    y = 0.0003 + x * rng.standard_t(5, 1_500) / np.sqrt(5 / 3)
    taus = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    smoothed = smoothed_quantile_regression(x, y, taus)
    for tau, (a, b) in zip(taus, smoothed, strict=True):
        exact = QuantileRegressor(quantile=tau, alpha=0, solver="highs").fit(x[:, None], y)
        assert a + b * 0.02 == pytest.approx(exact.intercept_ + exact.coef_[0] * 0.02, abs=1e-3)
        assert b == pytest.approx(exact.coef_[0], abs=0.1)


def test_ewma_volatility_uses_only_earlier_returns() -> None:
    returns = np.array([0.01] * 30 + [0.5])
    sigma = ewma_volatility(returns)
    assert len(sigma) == 32  # sigma[t] is known before returns[t]; sigma[31] forecasts the next
    assert sigma[30] == pytest.approx(0.01)  # the shock at t = 30 is not yet known
    expected = np.sqrt(EWMA_LAMBDA * 0.01**2 + (1 - EWMA_LAMBDA) * 0.5**2)
    assert sigma[31] == pytest.approx(expected)


def test_quantile_paths_have_the_spread_of_iid_data() -> None:
    history = np.random.default_rng(2).normal(0.0, 0.01, 1_500)
    model = fit_quantile_model(history)
    paths = simulate_quantile_model(model, 4_000, 20, np.random.default_rng(3))
    assert paths.shape == (4_000, 20)
    assert paths.std() == pytest.approx(0.01, rel=0.1)
    cumulative = np.prod(1 + paths, axis=1) - 1
    assert cumulative.std() == pytest.approx(0.01 * np.sqrt(20), rel=0.15)


def test_quantile_paths_are_wider_after_a_turbulent_spell() -> None:
    rng = np.random.default_rng(4)
    volatility = np.where(np.arange(1_500) % 300 < 150, 0.005, 0.02)  # calm, turbulent, ...
    history = volatility * rng.normal(size=1_500)
    calm = simulate_quantile_model(fit_quantile_model(history[:1_350]), 2_000, 10, rng)
    wild = simulate_quantile_model(fit_quantile_model(history[:1_500]), 2_000, 10, rng)
    assert wild.std() > 2 * calm.std()


@pytest.mark.slow
def test_prophet_paths_are_seeded_and_anchored_at_the_last_equity() -> None:
    history = np.random.default_rng(5).normal(0.0004, 0.01, 300)
    first, detail = prophet_paths(history, 200, 15, np.random.default_rng(9))
    again, _ = prophet_paths(history, 200, 15, np.random.default_rng(9))
    assert first.shape == (200, 15) and np.array_equal(first, again)
    assert np.all(first > -1) and "Prophet" in detail
    # one step ahead, the spread is the observation noise around the trend
    assert 0.001 < first[:, 0].std() < 0.2
