"""The Forecaster facade: results, backtest ids, and bad input named by field."""

from __future__ import annotations

import numpy as np
import pytest

from services.forecast.domain import (
    Band,
    CalibrationRequest,
    Forecaster,
    ForecastLimits,
    ForecastRequest,
    Kpi,
    Method,
    ReturnSeries,
)
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    QuantmeshError,
    ResourceExhausted,
)

RETURNS = np.random.default_rng(3).normal(0.0004, 0.01, 300)


class FakeBacktests:
    def __init__(self, series: dict[str, ReturnSeries]) -> None:
        self.series = series

    async def returns(self, backtest_id: str) -> ReturnSeries:
        if backtest_id not in self.series:
            raise NotFound(f"backtest {backtest_id!r} not found")
        return self.series[backtest_id]


@pytest.fixture
async def forecaster() -> Forecaster:
    return Forecaster(limits=ForecastLimits(max_paths=5_000, max_origins=50), workers=2)


async def test_a_forecast_per_method_with_kpi_and_path_bands(forecaster: Forecaster) -> None:
    result = await forecaster.forecast_kpis(
        ForecastRequest(
            series=ReturnSeries(RETURNS),
            horizon=30,
            methods=[Method.QUANTILE_REGRESSION, Method.BOOTSTRAP],
            paths=500,
            seed=7,
        )
    )
    assert [f.method for f in result.forecasts] == [Method.QUANTILE_REGRESSION, Method.BOOTSTRAP]
    assert result.percentiles == (5.0, 25.0, 50.0, 75.0, 95.0)
    assert result.history_length == 300 and result.origin_time is None
    bootstrap = result.forecast(Method.BOOTSTRAP)
    assert bootstrap.mean_block_length >= 1.0 and "Politis–White" in bootstrap.detail
    assert [b.kpi for b in bootstrap.kpis] == [Kpi.CUMULATIVE_RETURN, Kpi.MAX_DRAWDOWN, Kpi.SHARPE]
    assert bootstrap.path_bands.shape == (5, 30)
    assert result.forecast(Method.QUANTILE_REGRESSION).mean_block_length == 0.0
    again = await forecaster.forecast_kpis(
        ForecastRequest(series=ReturnSeries(RETURNS), horizon=30, paths=500, seed=7)
    )
    # a method's paths depend on the seed, not on which other methods were asked for
    assert np.array_equal(again.forecasts[0].path_bands, bootstrap.path_bands)


async def test_backtest_ids_need_a_returns_source() -> None:
    alone = Forecaster()
    with pytest.raises(FailedPrecondition, match="no backtest returns source") as caught:
        await alone.forecast_kpis(ForecastRequest(backtest_id="bt-1", horizon=5))
    assert caught.value.metadata == {"backtest_id": "bt-1"}
    served = Forecaster(
        returns_source=FakeBacktests(
            {"bt-1": ReturnSeries(RETURNS), "short": ReturnSeries(RETURNS[:10])}
        )
    )
    result = await served.forecast_kpis(ForecastRequest(backtest_id="bt-1", horizon=5, paths=50))
    assert result.history_length == 300
    with pytest.raises(NotFound):
        await served.forecast_kpis(ForecastRequest(backtest_id="nope", horizon=5))
    with pytest.raises(FailedPrecondition, match="at least 60"):
        await served.forecast_kpis(ForecastRequest(backtest_id="short", horizon=5))


GOOD = ReturnSeries(RETURNS)


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (ForecastRequest(horizon=5), InvalidArgument, "source"),
        (ForecastRequest(series=GOOD, backtest_id="x", horizon=5), InvalidArgument, "source"),
        (ForecastRequest(series=ReturnSeries([]), horizon=5), InvalidArgument, "series.returns"),
        (ForecastRequest(series=ReturnSeries(RETURNS[:20]), horizon=5), InvalidArgument,
         "series.returns"),
        (ForecastRequest(series=ReturnSeries([*RETURNS[:99], float("nan"), *RETURNS[100:]]),
                         horizon=5), InvalidArgument, "series.returns[99]"),
        (ForecastRequest(series=ReturnSeries([*RETURNS[:5], float("inf"), *RETURNS[6:]]),
                         horizon=5), InvalidArgument, "series.returns[5]"),
        (ForecastRequest(series=ReturnSeries([-1.0, *RETURNS]), horizon=5), InvalidArgument,
         "series.returns[0]"),
        (ForecastRequest(series=GOOD, horizon=0), InvalidArgument, "horizon"),
        (ForecastRequest(series=GOOD, horizon=-3), InvalidArgument, "horizon"),
        (ForecastRequest(series=GOOD, horizon=100_000), InvalidArgument, "horizon"),
        (ForecastRequest(series=GOOD, horizon=5, percentiles=[0.0, 50.0]), InvalidArgument,
         "percentiles[0]"),
        (ForecastRequest(series=GOOD, horizon=5, percentiles=[50.0, 100.0]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=GOOD, horizon=5, percentiles=[50.0, 25.0]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=GOOD, horizon=5, percentiles=[25.0, 25.0]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=GOOD, horizon=5, percentiles=[float("nan")]), InvalidArgument,
         "percentiles[0]"),
        (ForecastRequest(series=GOOD, horizon=5, methods=[Method.BOOTSTRAP, Method.BOOTSTRAP]),
         InvalidArgument, "methods[1]"),
        (ForecastRequest(series=GOOD, horizon=5, methods=["garch"]),  # type: ignore[list-item]
         InvalidArgument, "methods[0]"),
        (ForecastRequest(series=GOOD, horizon=5, paths=-1), InvalidArgument, "paths"),
        (ForecastRequest(series=GOOD, horizon=5, paths=5), InvalidArgument, "paths"),
        (ForecastRequest(series=GOOD, horizon=5, paths=1_000_000), ResourceExhausted, "paths"),
        (ForecastRequest(series=GOOD, horizon=2_001, paths=5_000), ResourceExhausted, "paths"),
        (ForecastRequest(series=GOOD, horizon=5, mean_block_length=0.5), InvalidArgument,
         "mean_block_length"),
        (ForecastRequest(series=GOOD, horizon=5, mean_block_length=301), InvalidArgument,
         "mean_block_length"),
        (ForecastRequest(series=GOOD, horizon=5, periods_per_year=-1), InvalidArgument,
         "periods_per_year"),
        (ForecastRequest(series=GOOD, horizon=5, lookback=10), InvalidArgument, "lookback"),
    ],
)  # fmt: skip
async def test_bad_forecast_requests_name_the_field(
    forecaster: Forecaster, request_: ForecastRequest, error: type[QuantmeshError], field: str
) -> None:
    with pytest.raises(error) as caught:
        await forecaster.forecast_kpis(request_)
    assert [v.field for v in caught.value.violations] == [field]


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (CalibrationRequest(series=GOOD, horizons=[20, 10]), InvalidArgument, "horizons[1]"),
        (CalibrationRequest(series=GOOD, horizons=[0]), InvalidArgument, "horizons[0]"),
        (CalibrationRequest(series=GOOD, bands=[Band(90, 10)]), InvalidArgument,
         "bands[0].upper_percentile"),
        (CalibrationRequest(series=GOOD, bands=[Band(0, 90)]), InvalidArgument,
         "bands[0].lower_percentile"),
        (CalibrationRequest(series=GOOD, kpis=[Kpi.SHARPE, Kpi.SHARPE]), InvalidArgument,
         "kpis[1]"),
        (CalibrationRequest(series=GOOD, min_history=10), InvalidArgument, "min_history"),
        (CalibrationRequest(series=GOOD, origin_step=-1), InvalidArgument, "origin_step"),
        # 300 returns cannot hold min_history 252 plus a horizon of 60
        (CalibrationRequest(series=GOOD, horizons=[60]), InvalidArgument, "series.returns"),
        (CalibrationRequest(series=GOOD, min_history=60, origin_step=1), ResourceExhausted,
         "origin_step"),
    ],
)  # fmt: skip
async def test_bad_calibration_requests_name_the_field(
    forecaster: Forecaster, request_: CalibrationRequest, error: type[QuantmeshError], field: str
) -> None:
    with pytest.raises(error) as caught:
        await forecaster.evaluate_calibration(request_)
    assert [v.field for v in caught.value.violations] == [field]


async def test_calibration_cells_are_limited() -> None:
    tight = Forecaster(limits=ForecastLimits(max_calibration_cells=1_000))
    with pytest.raises(ResourceExhausted) as caught:
        await tight.evaluate_calibration(CalibrationRequest(series=GOOD, min_history=200))
    assert caught.value.metadata["limit"] == "1000"


async def test_times_must_match_and_increase(forecaster: Forecaster) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2020, 1, 1, tzinfo=UTC)
    times = [start + timedelta(days=i) for i in range(300)]
    result = await forecaster.forecast_kpis(
        ForecastRequest(series=ReturnSeries(RETURNS, times), horizon=3, paths=50)
    )
    assert result.origin_time == times[-1]
    with pytest.raises(InvalidArgument) as caught:
        await forecaster.forecast_kpis(
            ForecastRequest(series=ReturnSeries(RETURNS, times[:-1]), horizon=3)
        )
    assert caught.value.violations[0].field == "series.times"
    swapped = [*times[:10], times[11], times[10], *times[12:]]
    with pytest.raises(InvalidArgument) as caught:
        await forecaster.forecast_kpis(
            ForecastRequest(series=ReturnSeries(RETURNS, swapped), horizon=3)
        )
    assert caught.value.violations[0].field == "series.times[11]"
