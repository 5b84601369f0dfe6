"""Price-derived quantities over closes, oldest first: one symbol's series (1-D) or several
symbols' complete series side by side (2-D, time on axis 0). Causal: the value at index i uses
closes[..i] only, and is NaN until its window is full."""

from __future__ import annotations

import math

import numpy as np

from backtest.arrays import FloatArray

#: SMA pairs closer than this (relative) are recomputed with exactly rounded sums.
TIE_TOLERANCE = 1e-9


def rolling_sum(values: FloatArray, window: int) -> FloatArray:
    """Sum of the last `window` values along axis 0 (NaN before the window is full)."""
    out: FloatArray = np.full(values.shape, np.nan)
    if values.shape[0] >= window:
        total = np.cumsum(values, axis=0)
        out[window - 1 :] = total[window - 1 :]
        out[window:] -= total[:-window]
    return out


def rolling_mean(values: FloatArray, window: int) -> FloatArray:
    mean: FloatArray = rolling_sum(values, window) / window
    return mean


def sma_pair(close: FloatArray, fast: int, slow: int) -> tuple[FloatArray, FloatArray]:
    """SMA(fast) and SMA(slow). Where the two are within TIE_TOLERANCE of each other, both are
    recomputed as math.fsum(window) / n (the exactly rounded sum, as backtrader computes it), so
    which one is above never depends on summation order."""
    f, s = rolling_mean(close, fast), rolling_mean(close, slow)
    with np.errstate(invalid="ignore"):
        near = np.argwhere(np.abs(f - s) <= TIE_TOLERANCE * np.abs(s))
    columns = close if close.ndim == 2 else close[:, None]
    f2, s2 = (f, s) if f.ndim == 2 else (f[:, None], s[:, None])  # views: writes go through
    for i, j in (near if near.shape[1] == 2 else np.column_stack([near, 0 * near])).tolist():
        f2[i, j] = math.fsum(columns[i - fast + 1 : i + 1, j].tolist()) / fast
        s2[i, j] = math.fsum(columns[i - slow + 1 : i + 1, j].tolist()) / slow
    return f, s


def sma_cross(close: FloatArray, fast: int, slow: int) -> FloatArray:
    """SMA(fast) - SMA(slow)."""
    f, s = sma_pair(close, fast, slow)
    diff: FloatArray = f - s
    return diff


def sma_spread(close: FloatArray, fast: int, slow: int) -> FloatArray:
    """SMA(fast) / SMA(slow) - 1."""
    f, s = sma_pair(close, fast, slow)
    spread: FloatArray = f / s - 1
    return spread


def trailing_return(close: FloatArray, window: int) -> FloatArray:
    """close[i] / close[i - window] - 1."""
    out: FloatArray = np.full(close.shape, np.nan)
    if close.shape[0] > window:
        out[window:] = close[window:] / close[:-window] - 1
    return out


def volatility(close: FloatArray, window: int, periods_per_year: float) -> FloatArray:
    """Annualized standard deviation (ddof 1) of the last `window` one-bar returns."""
    out: FloatArray = np.full(close.shape, np.nan)
    if close.shape[0] > window:
        returns = close[1:] / close[:-1] - 1
        centered = returns - np.nanmean(returns, axis=0)  # keeps the sums small
        s1 = rolling_sum(centered, window)[window - 1 :]
        s2 = rolling_sum(centered * centered, window)[window - 1 :]
        variance = np.maximum((s2 - s1 * s1 / window) / (window - 1), 0.0)
        out[window:] = np.sqrt(variance) * math.sqrt(periods_per_year)
    return out
