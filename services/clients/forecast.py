"""Typed async client of the forecast service: domain requests in, domain results out.

`ForecastClient` has the `Forecaster`'s methods and signatures (plus `timeout=`), so code and
tests written against one run against the other.
"""

from __future__ import annotations

import grpc
from quantmesh.forecast.v1 import forecast_pb2_grpc

from services.clients.base import ServiceClient
from services.forecast import codec
from services.forecast.domain.calibration import CalibrationReport
from services.forecast.domain.forecasting import ForecastResult
from services.forecast.domain.requests import CalibrationRequest, ForecastRequest


class ForecastClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = forecast_pb2_grpc.ForecastServiceStub(channel)

    async def forecast_kpis(
        self, request: ForecastRequest, *, timeout: float | None = None
    ) -> ForecastResult:
        """KPI and path bands over the next `request.horizon` bars, one per method."""
        response = await self._unary(
            self._stub.ForecastKpis, codec.forecast_request_to_pb(request), timeout
        )
        return codec.forecast_result_from_pb(response)

    async def evaluate_calibration(
        self, request: CalibrationRequest, *, timeout: float | None = None
    ) -> CalibrationReport:
        """Rolling-origin coverage and pinball loss of the bands on the request's history."""
        response = await self._unary(
            self._stub.EvaluateCalibration, codec.calibration_request_to_pb(request), timeout
        )
        return codec.calibration_report_from_pb(response)
