"""The stationary block bootstrap (Politis and Romano 1994) and its automatic block length.

A bootstrap path is a concatenation of blocks of consecutive historical returns. Each block
starts at a uniformly drawn position and its length is geometric with mean `mean_block_length`
(each step starts a new block with probability 1 / mean_block_length); a block running past
the end of the history wraps around to its start (the circular scheme), so every return is
drawn with the same probability. Returns inside a block keep their order, so short-range
dependence survives; the random block lengths make the resampled series stationary.

`politis_white_block_length` picks the mean block length from the data (Politis and White
2004, with the correction of Patton, Politis and White 2009), as the `arch` package does.
"""

from __future__ import annotations

import math

import numpy as np

from services.forecast.domain.kpis import as_paths


def politis_white_block_length(returns: np.ndarray) -> float:
    """The Politis–White optimal mean block length of the stationary bootstrap, in [1, b_max].

    Autocorrelations are tested for significance at 2·sqrt(log10(n)/n); the lag window M is
    twice the first lag m after which K_N = max(5, sqrt(log10 n)) autocorrelations in a row are
    insignificant; the flat-top lag window then estimates G = sum |k| λ(k/M) R(k) and the long-run
    variance g = sum λ(k/M) R(k), and b = (2 G² / D)^(1/3) n^(1/3) with D = 2 g².
    """
    x = np.asarray(returns, dtype=np.float64)
    n = len(x)
    if n < 4 or np.ptp(x) <= 1e-12 * max(float(np.abs(x).max()), 1e-300):
        return 1.0  # too short, or constant: nothing to preserve
    eps = x - x.mean()
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    critical = 2.0 * math.sqrt(math.log10(n) / n)
    acv = np.array([eps[k:] @ eps[: n - k] / n for k in range(m_max + 1)])
    acorr = np.abs(acv / acv[0])
    m_hat: int | None = None
    for m in range(0, m_max - k_n + 1):
        if np.all(acorr[m + 1 : m + 1 + k_n] < critical):
            m_hat = m
            break
    big_m = m_max if m_hat is None else min(2 * max(m_hat, 1), m_max)
    g_sum = 0.0
    long_run = acv[0]
    for k in range(1, big_m + 1):
        ratio = k / big_m
        weight = 1.0 if ratio <= 0.5 else 2.0 * (1.0 - ratio)
        g_sum += 2.0 * weight * k * acv[k]
        long_run += 2.0 * weight * acv[k]
    d_sb = 2.0 * long_run**2
    if d_sb <= 0.0 or not math.isfinite(d_sb):
        return 1.0
    block = (2.0 * g_sum**2 / d_sb) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return float(min(max(block, 1.0), b_max))


def stationary_indices(
    n: int, paths: int, horizon: int, mean_block_length: float, rng: np.random.Generator
) -> np.ndarray:
    """Indices into a history of `n` returns: (paths x horizon), blocks wrapping circularly."""
    if n < 1 or paths < 1 or horizon < 1:
        raise ValueError("n, paths and horizon must be positive")
    if not mean_block_length >= 1.0:
        raise ValueError(f"mean block length {mean_block_length} is below 1")
    starts = rng.integers(0, n, size=(paths, horizon))
    new_block = rng.random((paths, horizon)) < 1.0 / mean_block_length
    new_block[:, 0] = True
    steps = np.arange(horizon)
    block_start = np.maximum.accumulate(np.where(new_block, steps, 0), axis=1)
    first = np.take_along_axis(starts, block_start, axis=1)
    return np.asarray((first + (steps - block_start)) % n)


def stationary_bootstrap(
    returns: np.ndarray,
    paths: int,
    horizon: int,
    mean_block_length: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap return paths (paths x horizon) from the history `returns`."""
    history = as_paths(returns)[0]
    indices = stationary_indices(len(history), paths, horizon, mean_block_length, rng)
    return np.asarray(history[indices])
