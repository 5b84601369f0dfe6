"""The forecast service as the server bootstrap hosts it: settings, limits, worker threads.

Backtest ids: the returns of a backtest come from the backtest service (`BacktestReturns`) when
it is hosted here or has an address of its own; otherwise a request naming a backtest fails with
FAILED_PRECONDITION.
"""

from __future__ import annotations

import dataclasses

from grpc import aio
from quantmesh.forecast.v1 import forecast_pb2, forecast_pb2_grpc

from services.forecast.backtest_returns import BacktestReturns
from services.forecast.domain.limits import ForecastLimits
from services.forecast.domain.returns import ReturnsSource
from services.forecast.domain.service import Forecaster
from services.forecast.servicer import ForecastServicer
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, SettingsError, env, load

SERVICE_NAME = forecast_pb2.DESCRIPTOR.services_by_name["ForecastService"].full_name


@dataclasses.dataclass(frozen=True)
class ForecastSettings:
    workers: int = env(
        "QUANTMESH_FORECAST_WORKERS",
        0,
        "Worker threads that simulate paths and fit models (Prophet, quantile regression); "
        "0 means min(4, CPU count). Requests beyond them wait their turn.",
    )
    max_returns: int = env(
        "QUANTMESH_FORECAST_MAX_RETURNS", 200_000, "Most returns in one request's series."
    )
    max_horizon: int = env(
        "QUANTMESH_FORECAST_MAX_HORIZON", 2_520, "Most bars one forecast reaches ahead."
    )
    default_paths: int = env(
        "QUANTMESH_FORECAST_DEFAULT_PATHS",
        2_000,
        "Simulated paths per method when a request asks for 0.",
    )
    max_paths: int = env(
        "QUANTMESH_FORECAST_MAX_PATHS",
        20_000,
        "Most simulated paths per method; more fail with RESOURCE_EXHAUSTED.",
    )
    max_path_cells: int = env(
        "QUANTMESH_FORECAST_MAX_PATH_CELLS",
        10_000_000,
        "Most simulated cells (paths x horizon) per method and forecast (about 80 MB each).",
    )
    max_origins: int = env(
        "QUANTMESH_FORECAST_MAX_ORIGINS", 500, "Most rolling origins in one EvaluateCalibration."
    )
    max_calibration_cells: int = env(
        "QUANTMESH_FORECAST_MAX_CALIBRATION_CELLS",
        2_000_000_000,
        "Most simulated cells (origins x methods x paths x longest horizon) in one "
        "EvaluateCalibration.",
    )

    def limits(self) -> ForecastLimits:
        return ForecastLimits(
            max_returns=self.max_returns,
            max_horizon=self.max_horizon,
            max_paths=self.max_paths,
            max_path_cells=self.max_path_cells,
            default_paths=self.default_paths,
            max_origins=self.max_origins,
            max_calibration_cells=self.max_calibration_cells,
        )


class ForecastService:
    name = "forecast"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        settings: ForecastSettings | None = None,
        returns_source: ReturnsSource | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings or load(ForecastSettings)
        try:
            self.limits = self.settings.limits()
        except ValueError as exc:
            raise SettingsError(f"QUANTMESH_FORECAST_*: {exc}") from None
        if self.settings.workers < 0:
            raise SettingsError("QUANTMESH_FORECAST_WORKERS must be 0 (automatic) or positive")
        self._backtests: BacktestReturns | None = None
        if returns_source is None and peers.configured("backtest"):
            self._backtests = returns_source = BacktestReturns(runtime, peers)
        self.returns_source = returns_source
        self.forecaster: Forecaster | None = None

    @property
    def operations(self) -> None:
        return None

    async def start(self) -> None:
        self.forecaster = Forecaster(
            returns_source=self.returns_source,
            limits=self.limits,
            workers=self.settings.workers or None,
        )

    def register(self, server: aio.Server) -> None:
        assert self.forecaster is not None, "start() first"
        forecast_pb2_grpc.add_ForecastServiceServicer_to_server(
            ForecastServicer(self.forecaster), server
        )

    async def close(self) -> None:
        if self.forecaster is not None:
            await self.forecaster.aclose()
        if self._backtests is not None:
            await self._backtests.close()
