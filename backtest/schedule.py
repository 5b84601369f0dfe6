"""When a strategy decides (rebalance bars) and how many bars make a year (annualization)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.arrays import BoolArray, IntArray, TimeArray
from backtest.config import Frequency, RebalanceFrequency, StrategyConfig

TRADING_DAYS = 252
MICROS_PER_DAY = 86_400_000_000


def decision_mask(times: TimeArray, frequency: RebalanceFrequency, timezone: str) -> BoolArray:
    """True on decision bars: every bar, or the last bar of each day, week (Monday to Sunday)
    or month in `timezone`. The last bar of the data always ends its period."""
    if frequency is RebalanceFrequency.EVERY_BAR:
        return np.ones(times.size, dtype=bool)
    period = period_codes(times, frequency, timezone)
    ends: BoolArray = np.ones(times.size, dtype=bool)
    ends[:-1] = period[1:] != period[:-1]
    return ends


def period_codes(times: TimeArray, frequency: RebalanceFrequency, timezone: str) -> IntArray:
    """A number per bar that changes exactly when a new day / week / month starts."""
    local = pd.to_datetime(times, unit="us", utc=True).tz_convert(timezone).tz_localize(None)
    stamps = local.to_numpy()
    if frequency is RebalanceFrequency.MONTHLY:
        months: IntArray = stamps.astype("datetime64[M]").astype(np.int64)
        return months
    days: IntArray = stamps.astype("datetime64[D]").astype(np.int64)
    if frequency is RebalanceFrequency.WEEKLY:
        return (days + 3) // 7  # 1970-01-01 was a Thursday: weeks start on Mondays
    return days


def periods_per_year(config: StrategyConfig, times: TimeArray) -> float:
    """The config's override, else 252 for daily bars, else 252 x the observed bars per
    session (bars / distinct UTC dates) for minute bars."""
    if config.periods_per_year is not None:
        return float(config.periods_per_year)
    if config.frequency is Frequency.DAILY or times.size == 0:
        return float(TRADING_DAYS)
    sessions = np.unique(times // MICROS_PER_DAY).size
    return TRADING_DAYS * times.size / sessions
