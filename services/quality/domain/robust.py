"""Trailing robust statistics on grouped series: the median and spread of the bars before a bar.

Rows are grouped contiguously (a symbol's bars, sorted by time). For each target row the
statistics cover up to `window` earlier rows of the same group, never the row itself, so every
score is causal: it uses only what was known before the bar. The spread is the interquartile
range over 1.349 (a standard deviation for normal data, unmoved by a few outliers).

Two strategies give the same numbers: gathering each target's window (cheap when the targets are
few, as in a daily batch of many symbols) and pandas rolling quantiles per group (cheap when
most rows are targets, as in a backfill of years).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

IQR_TO_SIGMA = 1.349
_GATHER_CHUNK = 16_384


@dataclass(frozen=True)
class Trailing:
    """Median and robust sigma per target row; NaN where fewer than `min_count` values."""

    median: np.ndarray
    sigma: np.ndarray
    count: np.ndarray


def trailing(
    values: np.ndarray,
    group_start: np.ndarray,
    targets: np.ndarray,
    window: int,
    min_count: int,
) -> Trailing:
    """Trailing median and robust sigma of `values` for each row index in `targets`.

    `group_start[i]` is the first row of row i's group. Non-finite values are ignored.
    """
    if len(targets) == 0:
        empty = np.empty(0)
        return Trailing(empty, empty, np.empty(0, dtype=np.int64))
    if len(targets) * window < 4 * len(values) or len(targets) < 64:
        return _gathered(values, group_start, targets, window, min_count)
    return _rolling(values, group_start, targets, window, min_count)


def _gathered(
    values: np.ndarray, group_start: np.ndarray, targets: np.ndarray, window: int, min_count: int
) -> Trailing:
    n = len(targets)
    median, sigma = np.full(n, np.nan), np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    offsets = np.arange(-window, 0)
    for lo in range(0, n, _GATHER_CHUNK):
        rows = targets[lo : lo + _GATHER_CHUNK]
        index = rows[:, None] + offsets[None, :]
        x = values[np.clip(index, 0, None)].astype(np.float64)
        x[(index < group_start[rows][:, None]) | ~np.isfinite(x)] = np.nan
        found = np.isfinite(x).sum(axis=1)
        q25, q50, q75 = _row_quantiles(x, found, (0.25, 0.5, 0.75))
        enough = found >= min_count
        median[lo : lo + len(rows)] = np.where(enough, q50, np.nan)
        sigma[lo : lo + len(rows)] = np.where(enough, (q75 - q25) / IQR_TO_SIGMA, np.nan)
        count[lo : lo + len(rows)] = found
    return Trailing(median, sigma, count)


def _row_quantiles(
    x: np.ndarray, found: np.ndarray, quantiles: tuple[float, ...]
) -> list[np.ndarray]:
    """Linear-interpolated quantiles of each row's finite values (NaN where a row has none)."""
    ordered = np.sort(x, axis=1)  # NaN sorts last
    last = np.maximum(found - 1, 0)
    result = []
    for q in quantiles:
        position = q * last
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, last)
        low = np.take_along_axis(ordered, below[:, None], axis=1)[:, 0]
        high = np.take_along_axis(ordered, above[:, None], axis=1)[:, 0]
        value = low + (high - low) * (position - below)
        result.append(np.where(found > 0, value, np.nan))
    return result


def _rolling(
    values: np.ndarray, group_start: np.ndarray, targets: np.ndarray, window: int, min_count: int
) -> Trailing:
    series = pd.Series(np.where(np.isfinite(values), values, np.nan))
    groups = pd.Series(group_start)
    previous = series.groupby(groups).shift(1)
    rolling = previous.groupby(groups).rolling(window, min_periods=min_count)
    q25, q50, q75 = (
        rolling.quantile(q).reset_index(level=0, drop=True).sort_index().to_numpy()[targets]
        for q in (0.25, 0.5, 0.75)
    )
    every = previous.groupby(groups).rolling(window, min_periods=0).count()
    found = every.reset_index(level=0, drop=True).sort_index().to_numpy()[targets]
    return Trailing(q50, (q75 - q25) / IQR_TO_SIGMA, np.nan_to_num(found).astype(np.int64))
