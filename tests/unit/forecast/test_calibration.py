"""Rolling-origin calibration: nominal coverage on iid data, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from services.forecast.domain.calibration import (
    evaluate_calibration,
    pinball_loss,
    rolling_origins,
)
from services.forecast.domain.kpis import Kpi
from services.forecast.domain.limits import ForecastLimits
from services.forecast.domain.methods import Method, Simulation, simulate
from services.forecast.domain.requests import Band, CalibrationRequest, calibration_spec
from services.forecast.domain.returns import ReturnSeries


def spec_for(returns: np.ndarray, **kwargs: object) -> object:
    request = CalibrationRequest(series=ReturnSeries(returns), **kwargs)  # type: ignore[arg-type]
    return calibration_spec(request, ForecastLimits())


def test_rolling_origins_leave_the_longest_horizon_inside_the_history() -> None:
    assert rolling_origins(100, 60, 10, 20) == [60, 70, 80]
    assert rolling_origins(100, 60, 10, 41) == []
    for origin in rolling_origins(2_517, 504, 20, 60):
        assert origin + 60 <= 2_517


def test_pinball_loss_by_hand() -> None:
    outcomes = np.array([0.1, -0.2])
    forecasts = np.array([0.0, 0.0])
    # q = 0.9: under-forecast 0.1 costs 0.9 x 0.1; over-forecast by 0.2 costs 0.1 x 0.2
    assert pinball_loss(outcomes, forecasts, 90.0) == pytest.approx((0.09 + 0.02) / 2)


@pytest.mark.parametrize("method", [Method.BOOTSTRAP, Method.QUANTILE_REGRESSION])
def test_iid_normal_returns_get_nominal_coverage(method: Method) -> None:
    returns = np.random.default_rng(2024).normal(0.0003, 0.01, 1_500)
    spec = spec_for(
        returns,
        horizons=[5, 20],
        methods=[method],
        min_history=300,
        origin_step=10,
        paths=400,
        kpis=[Kpi.CUMULATIVE_RETURN],
        bands=[Band(10, 90), Band(25, 75)],
    )
    origins = rolling_origins(len(returns), 300, 10, 20)
    report = evaluate_calibration(returns, spec, origins)  # type: ignore[arg-type]
    for horizon in (5, 20):
        result = report.result(method, horizon)
        assert result.origins == len(origins) == 119
        assert result.coverage(10, 90) == pytest.approx(0.80, abs=0.07), horizon
        assert result.coverage(25, 75) == pytest.approx(0.50, abs=0.09), horizon
        hits = {q.percentile: q.hit_rate for q in result.quantiles}
        assert hits[50.0] == pytest.approx(0.5, abs=0.12)
    assert len(report.results) == 2


def test_each_forecast_sees_only_the_returns_before_its_origin() -> None:
    returns = np.random.default_rng(1).normal(0.0, 0.01, 400)
    returns[300:] = 0.5  # a future that a peeking forecaster could not miss
    seen: list[tuple[int, np.ndarray]] = []

    def spy(
        method: Method,
        history: np.ndarray,
        paths: int,
        horizon: int,
        rng: np.random.Generator,
        block: float,
    ) -> Simulation:
        seen.append((len(history), history.copy()))
        return simulate(method, history, paths, horizon, rng, block)

    spec = spec_for(returns, horizons=[10, 30], min_history=100, origin_step=25, paths=50)
    origins = rolling_origins(len(returns), 100, 25, 30)
    evaluate_calibration(returns, spec, origins, simulator=spy)  # type: ignore[arg-type]
    methods = len(spec.simulating.methods)  # type: ignore[attr-defined]
    assert [length for length, _ in seen] == [o for o in origins for _ in range(methods)]
    for (length, history), origin in zip(seen, [o for o in origins for _ in range(methods)],
                                          strict=True):  # fmt: skip
        assert np.array_equal(history, returns[:origin]) and length == origin
        assert np.abs(history).max() < 0.1 or origin > 300


def test_lookback_limits_each_forecast_to_the_most_recent_returns() -> None:
    returns = np.random.default_rng(1).normal(0.0, 0.01, 400)
    lengths: list[int] = []

    def spy(
        method: Method,
        history: np.ndarray,
        paths: int,
        horizon: int,
        rng: np.random.Generator,
        block: float,
    ) -> Simulation:
        lengths.append(len(history))
        return simulate(method, history, paths, horizon, rng, block)

    spec = spec_for(
        returns, horizons=[10], methods=[Method.BOOTSTRAP], min_history=100, origin_step=50,
        paths=50, lookback=80,
    )  # fmt: skip
    evaluate_calibration(returns, spec, rolling_origins(400, 100, 50, 10), simulator=spy)  # type: ignore[arg-type]
    assert lengths == [80] * len(rolling_origins(400, 100, 50, 10))


def test_changing_the_future_does_not_change_earlier_forecasts() -> None:
    base = np.random.default_rng(8).normal(0.0, 0.01, 500)
    changed = base.copy()
    changed[400:] *= 5
    kwargs = {"horizons": [20], "min_history": 200, "origin_step": 50, "paths": 100}
    origins = rolling_origins(500, 200, 50, 20)  # [200, 250, 300, 350, 400, 450]
    early = [o for o in origins if o + 20 <= 400]

    def quantiles(returns: np.ndarray) -> list[float]:
        spec = spec_for(returns, **kwargs)
        report = evaluate_calibration(returns, spec, early)  # type: ignore[arg-type]
        return [r.mean_pinball_loss for r in report.results]

    assert quantiles(base) == quantiles(changed)
