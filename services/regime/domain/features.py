"""Regime features of a daily close series, each causal (row t uses closes up to t only).

- trend: log(close / 200-session simple moving average)
- volatility: log of the 20-session realized volatility of log returns, annualized
- drawdown: log(close / highest close of the last 252 sessions)

The definition is versioned: FEATURE_VERSION (a hash of it) is part of every cache key, so a
changed definition can never serve answers computed with the old one.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from numpy.typing import NDArray

TREND_WINDOW = 200
VOL_WINDOW = 20
DRAWDOWN_WINDOW = 252
SESSIONS_PER_YEAR = 252

#: Rows before the first classifiable one: row WARMUP_BARS - 1 is the first with every feature.
WARMUP_BARS = max(TREND_WINDOW, VOL_WINDOW + 1, DRAWDOWN_WINDOW)

FEATURE_NAMES = ("trend", "volatility", "drawdown")

_DEFINITION = {
    "trend": {"kind": "log_close_over_sma", "window": TREND_WINDOW},
    "volatility": {
        "kind": "log_realized_vol",
        "window": VOL_WINDOW,
        "annualize": SESSIONS_PER_YEAR,
    },
    "drawdown": {"kind": "log_close_over_rolling_max", "window": DRAWDOWN_WINDOW},
}
FEATURE_VERSION = (
    "rf1-" + hashlib.sha256(json.dumps(_DEFINITION, sort_keys=True).encode()).hexdigest()[:12]
)


def _rolling_windows(x: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    return np.lib.stride_tricks.sliding_window_view(x, window)


def regime_features(closes: NDArray[np.float64]) -> NDArray[np.float64]:
    """(T,) closes -> (T, 3) features; NaN in the first WARMUP_BARS - 1 rows."""
    closes = np.asarray(closes, dtype=np.float64)
    n = closes.shape[0]
    out = np.full((n, 3), np.nan)
    if n < WARMUP_BARS:
        return out
    logc = np.log(closes)
    csum = np.concatenate([[0.0], np.cumsum(closes)])
    sma = (csum[TREND_WINDOW:] - csum[:-TREND_WINDOW]) / TREND_WINDOW
    out[TREND_WINDOW - 1 :, 0] = logc[TREND_WINDOW - 1 :] - np.log(sma)
    returns = np.diff(logc)
    vol = _rolling_windows(returns, VOL_WINDOW).std(axis=1, ddof=1) * np.sqrt(SESSIONS_PER_YEAR)
    out[VOL_WINDOW:, 1] = np.log(np.maximum(vol, 1e-8))
    peak = _rolling_windows(logc, DRAWDOWN_WINDOW).max(axis=1)
    out[DRAWDOWN_WINDOW - 1 :, 2] = logc[DRAWDOWN_WINDOW - 1 :] - peak
    out[: WARMUP_BARS - 1] = np.nan
    return out
