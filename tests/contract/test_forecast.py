"""The forecast service: one suite against the domain object and over real gRPC, plus what only
the wire can get wrong (enum values a client made up, status details, a blocked event loop).

One module-wide server hosts the forecast service alone. Series are short and path counts
small, so the whole module runs in seconds; Prophet is fitted a handful of times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2, status_pb2
from quantmesh.forecast.v1 import forecast_pb2 as pb
from quantmesh.forecast.v1 import forecast_pb2_grpc

from services.clients.forecast import ForecastClient
from services.forecast.app import ForecastService, ForecastSettings
from services.forecast.domain import (
    Band,
    CalibrationRequest,
    Forecaster,
    ForecastRequest,
    Kpi,
    Method,
    ReturnSeries,
)
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    QuantmeshError,
    ResourceExhausted,
)
from services.runtime.peers import Peers
from services.runtime.server import MeshServer
from services.runtime.settings import RuntimeSettings, load
from services.runtime.status_codes import STATUS_DETAILS_KEY
from tests.conftest import Served, require_shared_data, serve, shutdown

pytestmark = pytest.mark.asyncio(loop_scope="module")
RETURNS = np.random.default_rng(17).normal(0.0004, 0.011, 400)
SERIES = ReturnSeries(RETURNS)
Api = Forecaster | ForecastClient


def settings_for(folder: Path) -> RuntimeSettings:
    return load(
        RuntimeSettings, environ={}, port=0, host="127.0.0.1", data_dir=folder, shutdown_grace_s=1
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    running = await serve(settings_for(tmp_path_factory.mktemp("forecast")), ["forecast"])
    yield running
    await shutdown(running)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def domain() -> AsyncIterator[Forecaster]:
    forecaster = Forecaster(workers=2)
    yield forecaster
    await forecaster.aclose()


@pytest.fixture(params=["domain", "grpc"])
def api(request: pytest.FixtureRequest, served: Served, domain: Forecaster) -> Api:
    """The same suite against the domain object and over gRPC (same methods, same types)."""
    return domain if request.param == "domain" else served.mesh.forecast


async def test_bands_of_every_kpi_and_of_the_path(api: Api) -> None:
    result = await api.forecast_kpis(
        ForecastRequest(
            series=SERIES,
            horizon=20,
            methods=[Method.BOOTSTRAP, Method.QUANTILE_REGRESSION],
            percentiles=[10, 50, 90],
            paths=400,
            seed=3,
        )
    )
    assert result.horizon == 20 and result.percentiles == (10.0, 50.0, 90.0)
    assert result.history_length == 400
    for forecast in result.forecasts:
        assert forecast.paths == 400 and forecast.detail
        assert [b.kpi for b in forecast.kpis] == [
            Kpi.CUMULATIVE_RETURN,
            Kpi.MAX_DRAWDOWN,
            Kpi.SHARPE,
        ]
        for bands in forecast.kpis:
            assert np.all(np.diff(bands.values) >= 0)
        assert forecast.path_bands.shape == (3, 20)
        assert np.all(np.diff(forecast.path_bands, axis=0) >= 0)
        cumulative = forecast.kpi(Kpi.CUMULATIVE_RETURN).values
        assert forecast.path_bands[:, -1] == pytest.approx(cumulative)
        # about ±1.28 σ √20 around the drift for the 10–90 band of a 1.1% daily volatility
        assert 0.08 < cumulative[2] - cumulative[0] < 0.17
    bootstrap = result.forecast(Method.BOOTSTRAP)
    assert bootstrap.mean_block_length >= 1 and bootstrap.returns_used == 400
    assert result.forecast(Method.QUANTILE_REGRESSION).returns_used == 400


async def test_the_same_seed_gives_the_same_bands_over_the_wire_and_in_process(
    served: Served, domain: Forecaster
) -> None:
    request = ForecastRequest(series=SERIES, horizon=15, paths=300, seed=99, lookback=250)
    local = await domain.forecast_kpis(request)
    remote = await served.mesh.forecast.forecast_kpis(request)
    again = await served.mesh.forecast.forecast_kpis(request)
    other = await served.mesh.forecast.forecast_kpis(
        ForecastRequest(series=SERIES, horizon=15, paths=300, seed=100, lookback=250)
    )
    assert np.array_equal(local.forecasts[0].path_bands, remote.forecasts[0].path_bands)
    assert np.array_equal(remote.forecasts[0].path_bands, again.forecasts[0].path_bands)
    assert not np.array_equal(remote.forecasts[0].path_bands, other.forecasts[0].path_bands)
    assert remote.forecasts[0].returns_used == 250
    for mine, theirs in zip(local.forecasts[0].kpis, remote.forecasts[0].kpis, strict=True):
        assert np.array_equal(mine.values, theirs.values) and mine.mean == theirs.mean


async def test_a_dow_stock_with_times_reports_its_origin(api: Api) -> None:
    bars = parse_csv(require_shared_data() / "daily" / "dow30" / "KO.csv").table
    close = np.asarray(bars.column("close").to_numpy(), dtype=np.float64)
    times = bars.column("time").to_pylist()[1:]
    result = await api.forecast_kpis(
        ForecastRequest(
            series=ReturnSeries(close[1:] / close[:-1] - 1, times), horizon=60, paths=500
        )
    )
    assert result.origin_time == datetime(2018, 11, 23, tzinfo=UTC)
    assert result.history_length == 2_517 and result.forecasts[0].returns_used == 504
    drawdown = result.forecasts[0].kpi(Kpi.MAX_DRAWDOWN)
    assert 0.0 < drawdown.values[0] < drawdown.values[-1] < 0.5


async def test_prophet_forecasts_from_the_log_equity(api: Api) -> None:
    result = await api.forecast_kpis(
        ForecastRequest(series=SERIES, horizon=10, methods=[Method.PROPHET], paths=100, seed=1)
    )
    [prophet] = result.forecasts
    assert prophet.method is Method.PROPHET and "Prophet" in prophet.detail
    assert prophet.returns_used == 400 and prophet.path_bands.shape == (5, 10)


async def test_calibration_reports_coverage_and_pinball_loss(api: Api) -> None:
    report = await api.evaluate_calibration(
        CalibrationRequest(
            series=SERIES,
            horizons=[5, 20],
            min_history=200,
            origin_step=20,
            paths=200,
            bands=[Band(10, 90)],
            percentiles=[50],
            kpis=[Kpi.CUMULATIVE_RETURN, Kpi.MAX_DRAWDOWN],
        )
    )
    assert report.origins == tuple(range(200, 381, 20)) and report.history_length == 400
    assert [(r.method, r.horizon, r.kpi) for r in report.results] == [
        (m, h, k)
        for m in (Method.BOOTSTRAP, Method.QUANTILE_REGRESSION)
        for h in (5, 20)
        for k in (Kpi.CUMULATIVE_RETURN, Kpi.MAX_DRAWDOWN)
    ]
    for result in report.results:
        assert result.origins == 10
        assert 0.0 <= result.coverage(10, 90) <= 1.0 and result.bands[0].mean_width > 0
        assert [q.percentile for q in result.quantiles] == [10.0, 50.0, 90.0]
        assert result.mean_pinball_loss > 0


async def test_a_backtest_id_needs_the_backtest_service(api: Api) -> None:
    with pytest.raises(FailedPrecondition, match="no backtest returns source") as caught:
        await api.forecast_kpis(ForecastRequest(backtest_id="bt-42", horizon=20))
    assert caught.value.metadata["backtest_id"] == "bt-42"
    with pytest.raises(FailedPrecondition):
        await api.evaluate_calibration(CalibrationRequest(backtest_id="bt-42"))


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (ForecastRequest(horizon=20), InvalidArgument, "source"),
        (ForecastRequest(series=ReturnSeries([]), horizon=20), InvalidArgument, "series.returns"),
        (ForecastRequest(series=ReturnSeries(RETURNS[:30]), horizon=20), InvalidArgument,
         "series.returns"),
        (ForecastRequest(series=ReturnSeries([*RETURNS[:7], float("nan"), *RETURNS[8:]]),
                         horizon=20), InvalidArgument, "series.returns[7]"),
        (ForecastRequest(series=ReturnSeries([*RETURNS[:3], float("-inf"), *RETURNS[4:]]),
                         horizon=20), InvalidArgument, "series.returns[3]"),
        (ForecastRequest(series=ReturnSeries([*RETURNS, -1.5]), horizon=20), InvalidArgument,
         "series.returns[400]"),
        (ForecastRequest(series=SERIES, horizon=0), InvalidArgument, "horizon"),
        (ForecastRequest(series=SERIES, horizon=1_000_000), InvalidArgument, "horizon"),
        (ForecastRequest(series=SERIES, horizon=5, percentiles=[50, 100]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=SERIES, horizon=5, percentiles=[-5, 50]), InvalidArgument,
         "percentiles[0]"),
        (ForecastRequest(series=SERIES, horizon=5, percentiles=[75, 25]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=SERIES, horizon=5, percentiles=[25, 25]), InvalidArgument,
         "percentiles[1]"),
        (ForecastRequest(series=SERIES, horizon=5, methods=[Method.PROPHET, Method.PROPHET]),
         InvalidArgument, "methods[1]"),
        (ForecastRequest(series=SERIES, horizon=5, paths=10_000_000), ResourceExhausted, "paths"),
        (ForecastRequest(series=SERIES, horizon=2_500, paths=10_000), ResourceExhausted, "paths"),
        (ForecastRequest(series=SERIES, horizon=5, mean_block_length=1e9), InvalidArgument,
         "mean_block_length"),
        (CalibrationRequest(series=SERIES, horizons=[60, 20]), InvalidArgument, "horizons[1]"),
        (CalibrationRequest(series=SERIES, bands=[Band(50, 50)]), InvalidArgument,
         "bands[0].upper_percentile"),
        (CalibrationRequest(series=SERIES, horizons=[200]), InvalidArgument, "series.returns"),
        (CalibrationRequest(series=ReturnSeries(np.tile(RETURNS, 5)), min_history=60,
                            origin_step=1, horizons=[1]), ResourceExhausted, "origin_step"),
    ],
)  # fmt: skip
async def test_bad_input_gets_the_right_status_naming_the_field(
    api: Api,
    request_: ForecastRequest | CalibrationRequest,
    error: type[QuantmeshError],
    field: str,
) -> None:
    call = (
        api.forecast_kpis(request_)
        if isinstance(request_, ForecastRequest)
        else api.evaluate_calibration(request_)
    )
    with pytest.raises(error) as caught:
        await call
    assert [v.field for v in caught.value.violations] == [field]


async def test_made_up_enum_values_and_empty_sources_are_rejected_on_the_wire(
    served: Served,
) -> None:
    stub = forecast_pb2_grpc.ForecastServiceStub(served.mesh.channel("forecast"))
    series = pb.ReturnSeries(returns=RETURNS.tolist())
    cases = [
        (pb.ForecastKpisRequest(series=series, horizon=5, methods=[7]), "methods[0]"),
        (pb.ForecastKpisRequest(series=series, horizon=5, methods=[0]), "methods[0]"),
        (pb.ForecastKpisRequest(horizon=5), "source"),
        (pb.ForecastKpisRequest(backtest_id="", horizon=5), "backtest_id"),
        (pb.EvaluateCalibrationRequest(series=series, kpis=[1, 9]), "kpis[1]"),
        (pb.EvaluateCalibrationRequest(series=series, methods=[1, 2, 42]), "methods[2]"),
    ]
    for request, field in cases:
        method = stub.ForecastKpis if isinstance(request, pb.ForecastKpisRequest) else (
            stub.EvaluateCalibration)  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await method(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        details = dict(caught.value.trailing_metadata() or ())[STATUS_DETAILS_KEY]
        status = status_pb2.Status.FromString(details)
        bad = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad) for d in status.details)
        assert [v.field for v in bad.field_violations] == [field]
    health = await served.mesh.health("forecast").check("quantmesh.forecast.v1.ForecastService")
    assert health.status == "SERVING"


async def test_prophet_fits_do_not_block_the_event_loop(served: Served) -> None:
    calibration = asyncio.create_task(
        served.mesh.forecast.evaluate_calibration(
            CalibrationRequest(
                series=SERIES,
                methods=[Method.PROPHET],
                horizons=[10],
                min_history=200,
                origin_step=10,
                paths=100,
                kpis=[Kpi.CUMULATIVE_RETURN],
            ),
            timeout=120,
        )
    )
    health = served.mesh.health("forecast")
    worst, answers, began = 0.0, 0, time.perf_counter()
    while not calibration.done():
        started = time.perf_counter()
        answer = await health.check("quantmesh.forecast.v1.ForecastService", timeout=5)
        worst = max(worst, time.perf_counter() - started)
        assert answer.status == "SERVING"
        answers += 1
        await asyncio.sleep(0.02)
    report = await calibration
    elapsed = time.perf_counter() - began
    assert report.results[0].origins == 20  # 200, 210, ..., 390
    # twenty Prophet fits ran meanwhile; a blocked loop would answer once, after all of them
    assert answers >= 3 and worst < elapsed / 2


class Backtests:
    """A ReturnsSource playing the backtest service."""

    async def returns(self, backtest_id: str) -> ReturnSeries:
        if backtest_id != "bt-1":
            raise NotFound(f"backtest {backtest_id!r} not found", metadata={"id": backtest_id})
        start = datetime(2020, 1, 1, tzinfo=UTC)
        return ReturnSeries(RETURNS, [start + timedelta(days=i) for i in range(len(RETURNS))])


async def test_backtest_ids_resolve_through_a_configured_returns_source(tmp_path: Path) -> None:
    runtime = settings_for(tmp_path)
    peers = Peers(runtime, ["forecast"])
    service = ForecastService(
        runtime, peers, load(ForecastSettings, environ={}), returns_source=Backtests()
    )
    server = MeshServer([service], runtime, peers)
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    client = ForecastClient(channel)
    try:
        result = await client.forecast_kpis(
            ForecastRequest(backtest_id="bt-1", horizon=5, paths=100)
        )
        assert result.history_length == 400
        assert result.origin_time == datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=399)
        with pytest.raises(NotFound, match="bt-2"):
            await client.forecast_kpis(ForecastRequest(backtest_id="bt-2", horizon=5))
    finally:
        await channel.close()
        await server.stop(grace=0.5)
