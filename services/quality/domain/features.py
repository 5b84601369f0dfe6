"""Bar features, raw and normalised against each symbol's own trailing history.

Raw, per panel row: log return and overnight gap against the previous valid close, log range
(high over low), log volume, and the market's median return and gap in the same session (when
enough symbols trade in it), which the return and gap are adjusted by. Normalised, per target
row: trailing robust z-scores (see `robust`), with the return and gap scaled by the square root
of the sessions they span, so a bar after a hole is not a return outlier for the hole alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.quality.domain.calendar import calendar, day_numbers
from services.quality.domain.config import RuleConfig
from services.quality.domain.panel import Panel
from services.quality.domain.robust import trailing

_RANGE_EPS = 1e-4


@dataclass(frozen=True)
class RawFeatures:
    """Per panel row; NaN where a value or its previous close is missing."""

    previous: np.ndarray
    previous_close: np.ndarray
    missed: np.ndarray
    ret: np.ndarray
    gap: np.ndarray
    log_range: np.ndarray
    log_volume: np.ndarray
    market_ret: np.ndarray
    market_gap: np.ndarray

    @property
    def excess_ret(self) -> np.ndarray:
        return np.asarray(self.ret - self.market_ret)

    @property
    def excess_gap(self) -> np.ndarray:
        return np.asarray(self.gap - self.market_gap)


@dataclass(frozen=True)
class Normalized:
    """Per target row (`index` into the panel): z-scores and ratios against trailing history."""

    index: np.ndarray
    z_ret: np.ndarray
    z_gap: np.ndarray
    z_range: np.ndarray
    z_vol: np.ndarray
    ret_sigma: np.ndarray
    range_median: np.ndarray
    range_ratio: np.ndarray
    volume_ratio: np.ndarray
    history: np.ndarray

    def matrix(self) -> np.ndarray:
        """The four model features (return, gap, range, volume) as rows x 4."""
        return np.column_stack([self.z_ret, self.z_gap, self.z_range, self.z_vol])


MINUTES_PER_SESSION = 390


def cross_median(keys: np.ndarray, values: np.ndarray, min_count: int) -> np.ndarray:
    """Per element, the median of the finite `values` sharing its key (NaN below min_count)."""
    frame = pd.DataFrame({"k": keys, "v": np.where(np.isfinite(values), values, np.nan)})
    grouped = frame.groupby("k")["v"]
    median = grouped.transform("median").to_numpy(dtype=np.float64)
    count = grouped.transform("count").to_numpy()
    return np.where(count >= min_count, median, np.nan)


def raw_features(panel: Panel, config: RuleConfig, daily: bool) -> RawFeatures:
    previous = panel.previous()
    previous_close_index = panel.last_finite_before(panel.close)
    has_close = previous_close_index >= 0
    previous_close = np.where(has_close, panel.close[previous_close_index.clip(0)], np.nan)
    missed = np.zeros(len(panel), dtype=np.int64)
    if daily and config.calendar is not None and len(panel):
        sessions = calendar(config.calendar)
        days = day_numbers(panel.time)
        prior = np.where(previous >= 0, days[previous.clip(0)], days)
        missed = np.where(previous >= 0, sessions.sessions_between(prior, days), 0)
    elif not daily and len(panel):
        # Minute bars: a return over a longer interval (the overnight gap at the open, a halt)
        # is judged against the minute sigma scaled to that interval, as a random walk's
        # variance grows with time; capped at one session (390 minutes).
        gap_us = panel.time - panel.time[previous.clip(0)]
        minutes = np.where(previous >= 0, gap_us // 60_000_000, 1)
        missed = np.clip(minutes - 1, 0, MINUTES_PER_SESSION).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.log(panel.close / previous_close)
        gap = np.log(panel.open / previous_close)
        log_range = np.log(panel.high / panel.low)
        log_volume = np.where(panel.volume > 0, np.log(panel.volume), np.nan)
    market_ret = cross_median(panel.time, ret, config.min_market_symbols)
    market_gap = cross_median(panel.time, gap, config.min_market_symbols)
    return RawFeatures(
        previous=previous,
        previous_close=previous_close,
        missed=missed,
        ret=ret,
        gap=gap,
        log_range=log_range,
        log_volume=log_volume,
        market_ret=np.nan_to_num(market_ret),
        market_gap=np.nan_to_num(market_gap),
    )


def normalize(
    panel: Panel, raw: RawFeatures, targets: np.ndarray, config: RuleConfig
) -> Normalized:
    """Trailing robust z-scores of the target rows' features."""

    def stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result = trailing(values, panel.group_start, targets, config.window, config.min_history)
        return result.median, result.sigma, result.count

    span = np.sqrt(1.0 + raw.missed[targets])
    excess_ret, excess_gap = raw.excess_ret, raw.excess_gap
    med, sigma, count = stats(excess_ret)
    ret_sigma = np.maximum(sigma, config.return_floor)
    z_ret = (excess_ret[targets] - med) / ret_sigma / span
    med, sigma, _ = stats(excess_gap)
    z_gap = (excess_gap[targets] - med) / np.maximum(sigma, config.return_floor) / span
    with np.errstate(divide="ignore"):
        log_log_range = np.log(raw.log_range + _RANGE_EPS)
    med, sigma, _ = stats(log_log_range)
    z_range = (log_log_range[targets] - med) / np.maximum(sigma, config.volume_floor)
    range_median = np.exp(med)
    range_ratio = (raw.log_range[targets] + _RANGE_EPS) / range_median
    med, sigma, _ = stats(raw.log_volume)
    z_vol = (raw.log_volume[targets] - med) / np.maximum(sigma, config.volume_floor)
    volume_ratio = np.exp(raw.log_volume[targets] - med)
    return Normalized(
        index=targets,
        z_ret=z_ret,
        z_gap=z_gap,
        z_range=z_range,
        z_vol=z_vol,
        ret_sigma=ret_sigma,
        range_median=range_median,
        range_ratio=range_ratio,
        volume_ratio=volume_ratio,
        history=count,
    )
