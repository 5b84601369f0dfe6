"""Forecaster: the forecast service's domain facade (async; the work runs in worker threads).

Requests are validated first (InvalidArgument / ResourceExhausted naming the field), then the
history is resolved: the series in the request, or a backtest's returns through the
`ReturnsSource` (FailedPrecondition while there is none). Simulations run in an executor (a
thread pool created here, or one passed in), one task per method, so Prophet fits and large
bootstraps never block the event loop; a cancelled calibration stops at its next origin.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

from services.forecast.domain.calibration import (
    CalibrationReport,
    Simulator,
    evaluate_calibration,
    rolling_origins,
)
from services.forecast.domain.forecasting import ForecastResult, forecast_method
from services.forecast.domain.limits import ForecastLimits, too_large
from services.forecast.domain.methods import DEFAULT_WINDOWS, Method, simulate
from services.forecast.domain.requests import (
    CalibrationRequest,
    ForecastRequest,
    Simulating,
    calibration_spec,
    forecast_spec,
)
from services.forecast.domain.returns import (
    History,
    ReturnSeries,
    ReturnsSource,
    validate_returns,
)
from services.runtime.errors import FailedPrecondition, InvalidArgument

T = TypeVar("T")


class Forecaster:
    def __init__(
        self,
        returns_source: ReturnsSource | None = None,
        limits: ForecastLimits | None = None,
        executor: Executor | None = None,
        workers: int | None = None,
        simulator: Simulator = simulate,
    ) -> None:
        """`returns_source` resolves backtest ids (None: no backtest service configured)."""
        self.returns_source = returns_source
        self.limits = limits or ForecastLimits()
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=workers or min(4, os.cpu_count() or 1), thread_name_prefix="forecast"
        )
        self._simulator = simulator

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def forecast_kpis(self, request: ForecastRequest) -> ForecastResult:
        """KPI and path bands over `request.horizon` bars, one forecast per method."""
        spec = forecast_spec(request, self.limits)
        history = await self._history(request.series, request.backtest_id)
        returns = history.returns
        _check_block(spec.simulating, len(returns))
        forecasts = await asyncio.gather(
            *(
                self._run(forecast_method, method, returns, spec, self._simulator)
                for method in spec.simulating.methods
            )
        )
        return ForecastResult(
            forecasts=tuple(forecasts),
            horizon=spec.horizon,
            percentiles=spec.percentiles,
            history_length=len(returns),
            origin_time=history.last_time,
        )

    async def evaluate_calibration(self, request: CalibrationRequest) -> CalibrationReport:
        """Rolling-origin coverage and pinball loss of the bands (see `calibration`)."""
        spec = calibration_spec(request, self.limits)
        history = await self._history(request.series, request.backtest_id)
        returns = history.returns
        longest = spec.horizons[-1]
        origins = rolling_origins(len(returns), spec.min_history, spec.origin_step, longest)
        if not origins:
            raise InvalidArgument.for_field(
                _returns_field(request.backtest_id),
                f"has {len(returns)} returns; min_history {spec.min_history} plus the longest "
                f"horizon {longest} needs at least {spec.min_history + longest}",
            )
        if len(origins) > self.limits.max_origins:
            raise too_large(
                "origin_step",
                f"gives {len(origins)} origins; the server evaluates at most "
                f"{self.limits.max_origins} in one call (raise origin_step or min_history)",
                self.limits.max_origins,
                len(origins),
            )
        sim = spec.simulating
        cells = len(origins) * len(sim.methods) * sim.paths * longest
        if cells > self.limits.max_calibration_cells:
            raise too_large(
                "paths",
                f"{len(origins)} origins x {len(sim.methods)} methods x {sim.paths} paths x "
                f"{longest} bars exceeds the server's {self.limits.max_calibration_cells} "
                "simulated cells per calibration; ask for fewer paths or origins",
                self.limits.max_calibration_cells,
                cells,
            )
        _check_block(sim, spec.min_history)  # the first origin has the fewest returns
        stop = threading.Event()
        try:
            return await self._run(
                evaluate_calibration, returns, spec, origins, self._simulator, stop.is_set
            )
        except asyncio.CancelledError:
            stop.set()
            raise

    async def _history(self, series: ReturnSeries | None, backtest_id: str) -> History:
        if series is not None:
            return validate_returns(series, max_returns=self.limits.max_returns)
        if self.returns_source is None:
            raise FailedPrecondition(
                f"backtest_id {backtest_id!r}: the forecast service has no backtest returns "
                "source configured, so it cannot read a backtest's returns by id; send the "
                "returns in `series` instead",
                metadata={"backtest_id": backtest_id},
            )
        fetched = await self.returns_source.returns(backtest_id)
        try:
            return validate_returns(fetched, max_returns=self.limits.max_returns)
        except InvalidArgument as exc:
            raise FailedPrecondition(
                f"backtest {backtest_id!r} cannot be forecast: {exc.message}",
                metadata={"backtest_id": backtest_id},
            ) from None

    async def aclose(self) -> None:
        if self._own_executor:
            await asyncio.to_thread(self._executor.shutdown, True)


def _returns_field(backtest_id: str) -> str:
    return "backtest_id" if backtest_id else "series.returns"


def _check_block(sim: Simulating, available: int) -> None:
    """A requested bootstrap block cannot be longer than the returns it is drawn from."""
    if Method.BOOTSTRAP not in sim.methods or sim.mean_block_length == 0:
        return
    used = min(available, sim.lookback or DEFAULT_WINDOWS[Method.BOOTSTRAP] or available)
    if sim.mean_block_length > used:
        raise InvalidArgument.for_field(
            "mean_block_length",
            f"is {sim.mean_block_length}; the bootstrap draws from {used} returns "
            "(its window), and a block cannot be longer",
        )
