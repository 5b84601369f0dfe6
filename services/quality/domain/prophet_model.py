"""Prophet forecasts of a symbol's log close and log volume, precomputed for the next sessions.

A fit models the trailing history (trend, yearly seasonality when two years are there, weekly
seasonality for volume) and immediately forecasts the next K exchange sessions, keeping only
yhat and the interval's sigma per session. Checking a new bar is then a lookup: the residual's
z-score is (log value − yhat) / sigma. A bar past the forecast horizon gets no Prophet score (and
its symbol is due for a refit). The fit is a plain function of numpy arrays, so it runs in a
thread or a process pool; Prophet is imported only there.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from statistics import NormalDist

import numpy as np
import pandas as pd

from services.quality.domain.calendar import DAY_US
from services.quality.domain.config import ProphetConfig


class Target(StrEnum):
    CLOSE = "close"
    VOLUME = "volume"


@dataclass(frozen=True)
class ProphetForecast:
    """yhat and sigma of log(target) for the sessions (day numbers) after `data_end_us`."""

    symbol: str
    target: Target
    days: np.ndarray
    yhat: np.ndarray
    sigma: np.ndarray
    rows: int
    data_end_us: int
    fitted_at: datetime

    def z(self, days: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Residual z of log(values) on `days`; NaN where not forecast or not positive."""
        result = np.full(len(days), np.nan)
        if len(self.days) == 0:
            return result
        index = np.searchsorted(self.days, days).clip(0, len(self.days) - 1)
        covered = (self.days[index] == days) & (values > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(values) - self.yhat[index]) / self.sigma[index]
        result[covered] = z[covered]
        return result

    def covers(self, day: int) -> bool:
        return bool(len(self.days)) and int(self.days[0]) <= day <= int(self.days[-1])


def _quiet() -> None:
    """Silence Prophet's and cmdstanpy's progress logging (cmdstanpy adds its own handler)."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly failed" on import
    logging.getLogger("prophet").setLevel(logging.WARNING)
    # Prophet 1.5 calls DataFrame.drop(inplace=True), deprecated in pandas 3.1 (its business).
    warnings.filterwarnings("ignore", message="The inplace keyword", module="prophet")
    from cmdstanpy.utils import get_logger

    logger = get_logger()
    logger.setLevel(logging.WARNING)
    for handler in logger.handlers:
        handler.setLevel(logging.WARNING)


def fit_forecast(
    symbol: str,
    target: Target,
    times_us: np.ndarray,
    values: np.ndarray,
    horizon_days: np.ndarray,
    config: ProphetConfig,
) -> ProphetForecast | None:
    """Fit log(values) over the trailing `config.fit_sessions` and forecast `horizon_days`.

    Non-positive or non-finite values are left out. None with fewer than `config.min_rows`.
    """
    ok = np.isfinite(values) & (values > 0)
    times_us, values = times_us[ok][-config.fit_sessions :], values[ok][-config.fit_sessions :]
    if len(values) < config.min_rows or len(horizon_days) == 0:
        return None
    _quiet()
    from prophet import Prophet  # slow to import; only fitting workers need it

    span_days = (times_us[-1] - times_us[0]) / DAY_US
    model = Prophet(
        growth="linear",
        yearly_seasonality=bool(span_days >= 730),
        weekly_seasonality=target is Target.VOLUME,
        daily_seasonality=False,
        interval_width=config.interval_width,
        uncertainty_samples=config.uncertainty_samples,
    )
    history = pd.DataFrame({"ds": pd.to_datetime(times_us, unit="us"), "y": np.log(values)})
    future = pd.DataFrame({"ds": pd.to_datetime(horizon_days * DAY_US, unit="us")})
    model.fit(history)
    forecast = model.predict(future)
    width = 2 * NormalDist().inv_cdf(0.5 + config.interval_width / 2)
    sigma = (forecast["yhat_upper"] - forecast["yhat_lower"]).to_numpy() / width
    return ProphetForecast(
        symbol=symbol,
        target=target,
        days=np.asarray(horizon_days, dtype=np.int64),
        yhat=forecast["yhat"].to_numpy(dtype=np.float64),
        sigma=np.maximum(sigma, 1e-6),
        rows=len(values),
        data_end_us=int(times_us[-1]),
        fitted_at=datetime.now(UTC),
    )
