"""ForecastService over gRPC: decode the request, call the Forecaster, encode the reply."""

from __future__ import annotations

from grpc import aio
from quantmesh.forecast.v1 import forecast_pb2 as pb
from quantmesh.forecast.v1 import forecast_pb2_grpc

from services.forecast import codec
from services.forecast.domain.service import Forecaster


class ForecastServicer(forecast_pb2_grpc.ForecastServiceServicer):
    def __init__(self, forecaster: Forecaster) -> None:
        self._forecaster = forecaster

    async def ForecastKpis(
        self, request: pb.ForecastKpisRequest, context: aio.ServicerContext
    ) -> pb.ForecastKpisResponse:
        result = await self._forecaster.forecast_kpis(codec.forecast_request_from_pb(request))
        return codec.forecast_result_to_pb(result)

    async def EvaluateCalibration(
        self, request: pb.EvaluateCalibrationRequest, context: aio.ServicerContext
    ) -> pb.EvaluateCalibrationResponse:
        report = await self._forecaster.evaluate_calibration(
            codec.calibration_request_from_pb(request)
        )
        return codec.calibration_report_to_pb(report)
