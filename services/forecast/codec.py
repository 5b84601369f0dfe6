"""Protobuf <-> domain conversions for the forecast service, shared by servicer and client."""

from __future__ import annotations

import numpy as np
from quantmesh.forecast.v1 import forecast_pb2 as pb

from services.forecast.domain.bands import KpiBands
from services.forecast.domain.calibration import (
    BandCoverage,
    CalibrationReport,
    CalibrationResult,
    QuantileLoss,
)
from services.forecast.domain.forecasting import ForecastResult, MethodForecast
from services.forecast.domain.kpis import Kpi
from services.forecast.domain.methods import Method
from services.forecast.domain.requests import Band, CalibrationRequest, ForecastRequest
from services.forecast.domain.returns import ReturnSeries
from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import from_timestamp, to_timestamp

_METHOD_TO_PB = {
    Method.BOOTSTRAP: pb.FORECAST_METHOD_BOOTSTRAP,
    Method.QUANTILE_REGRESSION: pb.FORECAST_METHOD_QUANTILE_REGRESSION,
    Method.PROPHET: pb.FORECAST_METHOD_PROPHET,
}
_METHOD_FROM_PB = {v: k for k, v in _METHOD_TO_PB.items()}
_KPI_TO_PB = {
    Kpi.CUMULATIVE_RETURN: pb.KPI_CUMULATIVE_RETURN,
    Kpi.MAX_DRAWDOWN: pb.KPI_MAX_DRAWDOWN,
    Kpi.SHARPE: pb.KPI_SHARPE,
}
_KPI_FROM_PB = {v: k for k, v in _KPI_TO_PB.items()}


def method_to_pb(method: Method) -> pb.ForecastMethod:
    return _METHOD_TO_PB[Method(method)]


def method_from_pb(value: int, field: str = "method") -> Method:
    if value not in _METHOD_FROM_PB:
        known = ", ".join(pb.ForecastMethod.Name(v) for v in _METHOD_FROM_PB)
        raise InvalidArgument.for_field(field, f"unknown method {value}; use one of {known}")
    return _METHOD_FROM_PB[value]  # type: ignore[index]


def kpi_to_pb(kpi: Kpi) -> pb.Kpi:
    return _KPI_TO_PB[Kpi(kpi)]


def kpi_from_pb(value: int, field: str = "kpi") -> Kpi:
    if value not in _KPI_FROM_PB:
        known = ", ".join(pb.Kpi.Name(v) for v in _KPI_FROM_PB)
        raise InvalidArgument.for_field(field, f"unknown KPI {value}; use one of {known}")
    return _KPI_FROM_PB[value]  # type: ignore[index]


def series_to_pb(series: ReturnSeries) -> pb.ReturnSeries:
    return pb.ReturnSeries(
        returns=series.values().tolist(), times=[to_timestamp(t) for t in series.times]
    )


def series_from_pb(message: pb.ReturnSeries) -> ReturnSeries:
    return ReturnSeries(
        returns=np.asarray(message.returns, dtype=np.float64),
        times=tuple(from_timestamp(t) for t in message.times),
    )


def _source_from_pb(
    message: pb.ForecastKpisRequest | pb.EvaluateCalibrationRequest,
) -> tuple[ReturnSeries | None, str]:
    which = message.WhichOneof("source")
    if which == "series":
        return series_from_pb(message.series), ""
    if which == "backtest_id":
        if not message.backtest_id:
            raise InvalidArgument.for_field("backtest_id", "is empty")
        return None, message.backtest_id
    return None, ""


def forecast_request_to_pb(request: ForecastRequest) -> pb.ForecastKpisRequest:
    message = pb.ForecastKpisRequest(
        horizon=request.horizon,
        percentiles=list(request.percentiles),
        methods=[method_to_pb(m) for m in request.methods],
        paths=request.paths,
        seed=request.seed,
        mean_block_length=request.mean_block_length,
        periods_per_year=request.periods_per_year,
        lookback=request.lookback,
    )
    if request.series is not None:
        message.series.CopyFrom(series_to_pb(request.series))
    elif request.backtest_id:
        message.backtest_id = request.backtest_id
    return message


def forecast_request_from_pb(message: pb.ForecastKpisRequest) -> ForecastRequest:
    series, backtest_id = _source_from_pb(message)
    return ForecastRequest(
        series=series,
        backtest_id=backtest_id,
        horizon=message.horizon,
        percentiles=tuple(message.percentiles),
        methods=tuple(method_from_pb(m, f"methods[{i}]") for i, m in enumerate(message.methods)),
        paths=message.paths,
        seed=message.seed,
        mean_block_length=message.mean_block_length,
        periods_per_year=message.periods_per_year,
        lookback=message.lookback,
    )


def _kpi_bands_to_pb(bands: KpiBands) -> pb.KpiBands:
    return pb.KpiBands(
        kpi=kpi_to_pb(bands.kpi),
        values=[
            pb.PercentileValue(percentile=float(p), value=float(v))
            for p, v in zip(bands.percentiles, bands.values, strict=True)
        ],
        mean=bands.mean,
    )


def _kpi_bands_from_pb(message: pb.KpiBands) -> KpiBands:
    return KpiBands(
        kpi=kpi_from_pb(message.kpi),
        percentiles=np.array([v.percentile for v in message.values], dtype=np.float64),
        values=np.array([v.value for v in message.values], dtype=np.float64),
        mean=message.mean,
    )


def method_forecast_to_pb(
    forecast: MethodForecast, percentiles: tuple[float, ...]
) -> pb.MethodForecast:
    return pb.MethodForecast(
        method=method_to_pb(forecast.method),
        kpis=[_kpi_bands_to_pb(b) for b in forecast.kpis],
        path_bands=[
            pb.PathBand(percentile=p, cumulative_returns=row.tolist())
            for p, row in zip(percentiles, forecast.path_bands, strict=True)
        ],
        paths=forecast.paths,
        mean_block_length=forecast.mean_block_length,
        detail=forecast.detail,
        returns_used=forecast.returns_used,
    )


def forecast_result_to_pb(result: ForecastResult) -> pb.ForecastKpisResponse:
    message = pb.ForecastKpisResponse(
        forecasts=[method_forecast_to_pb(f, result.percentiles) for f in result.forecasts],
        horizon=result.horizon,
        percentiles=list(result.percentiles),
        history_length=result.history_length,
    )
    if result.origin_time is not None:
        message.origin_time.CopyFrom(to_timestamp(result.origin_time))
    return message


def forecast_result_from_pb(message: pb.ForecastKpisResponse) -> ForecastResult:
    forecasts = tuple(
        MethodForecast(
            method=method_from_pb(f.method),
            kpis=tuple(_kpi_bands_from_pb(b) for b in f.kpis),
            path_bands=np.array(
                [list(b.cumulative_returns) for b in f.path_bands], dtype=np.float64
            ).reshape(len(f.path_bands), message.horizon),
            paths=f.paths,
            mean_block_length=f.mean_block_length,
            detail=f.detail,
            returns_used=f.returns_used,
        )
        for f in message.forecasts
    )
    return ForecastResult(
        forecasts=forecasts,
        horizon=message.horizon,
        percentiles=tuple(message.percentiles),
        history_length=message.history_length,
        origin_time=from_timestamp(message.origin_time) if message.HasField("origin_time")
        else None,
    )  # fmt: skip


def _band_to_pb(band: Band) -> pb.Band:
    return pb.Band(lower_percentile=band.lower, upper_percentile=band.upper)


def _band_from_pb(message: pb.Band) -> Band:
    return Band(message.lower_percentile, message.upper_percentile)


def calibration_request_to_pb(request: CalibrationRequest) -> pb.EvaluateCalibrationRequest:
    message = pb.EvaluateCalibrationRequest(
        horizons=list(request.horizons),
        methods=[method_to_pb(m) for m in request.methods],
        percentiles=list(request.percentiles),
        bands=[_band_to_pb(b) for b in request.bands],
        kpis=[kpi_to_pb(k) for k in request.kpis],
        min_history=request.min_history,
        origin_step=request.origin_step,
        paths=request.paths,
        seed=request.seed,
        mean_block_length=request.mean_block_length,
        periods_per_year=request.periods_per_year,
        lookback=request.lookback,
    )
    if request.series is not None:
        message.series.CopyFrom(series_to_pb(request.series))
    elif request.backtest_id:
        message.backtest_id = request.backtest_id
    return message


def calibration_request_from_pb(message: pb.EvaluateCalibrationRequest) -> CalibrationRequest:
    series, backtest_id = _source_from_pb(message)
    return CalibrationRequest(
        series=series,
        backtest_id=backtest_id,
        horizons=tuple(message.horizons),
        methods=tuple(method_from_pb(m, f"methods[{i}]") for i, m in enumerate(message.methods)),
        percentiles=tuple(message.percentiles),
        bands=tuple(_band_from_pb(b) for b in message.bands),
        kpis=tuple(kpi_from_pb(k, f"kpis[{i}]") for i, k in enumerate(message.kpis)),
        min_history=message.min_history,
        origin_step=message.origin_step,
        paths=message.paths,
        seed=message.seed,
        mean_block_length=message.mean_block_length,
        periods_per_year=message.periods_per_year,
        lookback=message.lookback,
    )


def calibration_report_to_pb(report: CalibrationReport) -> pb.EvaluateCalibrationResponse:
    return pb.EvaluateCalibrationResponse(
        results=[
            pb.CalibrationResult(
                method=method_to_pb(r.method),
                horizon=r.horizon,
                kpi=kpi_to_pb(r.kpi),
                origins=r.origins,
                bands=[
                    pb.BandCoverage(
                        band=_band_to_pb(b.band), coverage=b.coverage, mean_width=b.mean_width
                    )
                    for b in r.bands
                ],
                quantiles=[
                    pb.QuantileLoss(
                        percentile=q.percentile, pinball_loss=q.pinball_loss, hit_rate=q.hit_rate
                    )
                    for q in r.quantiles
                ],
                mean_pinball_loss=r.mean_pinball_loss,
            )
            for r in report.results
        ],
        origins=list(report.origins),
        history_length=report.history_length,
    )


def calibration_report_from_pb(message: pb.EvaluateCalibrationResponse) -> CalibrationReport:
    return CalibrationReport(
        results=tuple(
            CalibrationResult(
                method=method_from_pb(r.method),
                horizon=r.horizon,
                kpi=kpi_from_pb(r.kpi),
                origins=r.origins,
                bands=tuple(
                    BandCoverage(_band_from_pb(b.band), b.coverage, b.mean_width) for b in r.bands
                ),
                quantiles=tuple(
                    QuantileLoss(q.percentile, q.pinball_loss, q.hit_rate) for q in r.quantiles
                ),
                mean_pinball_loss=r.mean_pinball_loss,
            )
            for r in message.results
        ),
        origins=tuple(message.origins),
        history_length=message.history_length,
    )
