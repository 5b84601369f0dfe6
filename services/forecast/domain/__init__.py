"""The forecast service's domain: KPI bands from simulated return paths (no gRPC).

Start at `Forecaster` (service.py). Modules, one job each:

    kpis          Kpi; cumulative return, max drawdown, Sharpe of every path (vectorized)
    bands         KpiBands; percentile bands of KPIs and per-step bands of the cumulative return
    bootstrap     the stationary block bootstrap and the Politis–White block length
    model_based   quantile regression on EWMA volatility; Prophet on log equity
    methods       Method; simulate(): one entry point to every method; seeded generators
    returns       ReturnSeries, the ReturnsSource protocol (backtest ids), validation
    limits        ForecastLimits; RESOURCE_EXHAUSTED for requests over them
    requests      ForecastRequest, CalibrationRequest, Band; defaults and validation
    forecasting   ForecastResult, MethodForecast; one method's forecast
    calibration   rolling origins; coverage, pinball loss and hit rate per quantile
    service       Forecaster: the async facade (worker threads, backtest ids)
"""

from services.forecast.domain.bands import DEFAULT_PERCENTILES, KpiBands
from services.forecast.domain.calibration import (
    BandCoverage,
    CalibrationReport,
    CalibrationResult,
    QuantileLoss,
)
from services.forecast.domain.forecasting import ForecastResult, MethodForecast
from services.forecast.domain.kpis import ALL_KPIS, Kpi
from services.forecast.domain.limits import ForecastLimits
from services.forecast.domain.methods import Method
from services.forecast.domain.requests import Band, CalibrationRequest, ForecastRequest
from services.forecast.domain.returns import MIN_RETURNS, ReturnSeries, ReturnsSource
from services.forecast.domain.service import Forecaster

__all__ = [
    "ALL_KPIS",
    "DEFAULT_PERCENTILES",
    "MIN_RETURNS",
    "Band",
    "BandCoverage",
    "CalibrationReport",
    "CalibrationRequest",
    "CalibrationResult",
    "ForecastLimits",
    "ForecastRequest",
    "ForecastResult",
    "Forecaster",
    "Kpi",
    "KpiBands",
    "Method",
    "MethodForecast",
    "QuantileLoss",
    "ReturnSeries",
    "ReturnsSource",
]
