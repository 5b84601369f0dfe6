"""A seeded synthetic stock market: the default data of `quantmesh demo` and a test bed.

A hidden Markov chain of persistent regimes (calm up-trend, down-trend, stress, range-bound) sets
the market factor's drift, volatility and tails. Each symbol's log return is

    alpha + beta * market + loading * sector + idiosyncratic (Student-t) + jumps (Poisson),

with per-symbol betas, loadings and volatilities drawn from the seed. Opens gap from the previous
close, highs and lows extend the open-close body by a range that scales with volatility, and
volume rises with the size of the move and in stressed regimes, around a log-normal per-symbol
level with autocorrelated noise. Everything is vectorised numpy and deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import BAR_SCHEMA, TIME_TYPE
from services.runtime.errors import InvalidArgument

REGIMES = ("calm_up", "down_trend", "stress", "range_bound")
REGIME_SCHEMA = pa.schema(
    [
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("regime", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class SyntheticMarket:
    """Daily bars of every symbol plus the true (hidden) regime of each session."""

    bars: pa.Table
    regimes: pa.Table
    symbols: list[str]


@dataclass(frozen=True)
class _Regime:
    drift: float  # market log return per session
    vol: float  # market volatility per session
    tail_df: float  # Student-t degrees of freedom of market and idiosyncratic shocks
    sector_vol: float
    idio_scale: float  # multiplies each symbol's idiosyncratic volatility
    jump_rate: float  # jumps per symbol per session
    jump_mean: float
    jump_vol: float
    volume_shift: float  # added to log volume
    duration: float  # expected sessions before the regime changes


_PARAMS = (
    _Regime(0.0005, 0.0075, 8.0, 0.004, 1.0, 0.002, 0.0, 0.03, -0.05, 80.0),  # calm_up
    _Regime(-0.0012, 0.015, 6.0, 0.007, 1.25, 0.005, -0.01, 0.04, 0.25, 35.0),  # down_trend
    _Regime(-0.003, 0.03, 3.5, 0.012, 1.7, 0.02, -0.03, 0.07, 0.6, 18.0),  # stress
    _Regime(0.0, 0.009, 8.0, 0.005, 1.0, 0.003, 0.0, 0.03, 0.0, 45.0),  # range_bound
)
# Where a regime goes when it ends (rows: from, columns: to; the diagonal is unused).
_EXITS = np.array(
    [
        [0.0, 0.40, 0.15, 0.45],
        [0.25, 0.0, 0.45, 0.30],
        [0.35, 0.35, 0.0, 0.30],
        [0.45, 0.40, 0.15, 0.0],
    ]
)
_RANGE_REVERSION = 0.08  # share of the market's drift from its range anchor undone per session
_VOL_PERSISTENCE = 0.95  # AR(1) of log volatility within regimes (clustering)
_VOL_OF_VOL = 0.07
_GAP_SHARE = 0.3  # share of the day's return already in the overnight gap
_RANGE_SCALE = 0.6  # high/low extension per unit of daily volatility
_VOLUME_PER_SIGMA = 0.3  # log-volume rise per standard deviation of |return|
_VOLUME_PERSISTENCE = 0.6
_VOLUME_NOISE = 0.3
_MAX_ABS_RETURN = 0.6


def transition_matrix() -> np.ndarray:
    """The regime chain's transition probabilities (rows: from, columns: to, in REGIMES order)."""
    stay = np.array([1.0 - 1.0 / p.duration for p in _PARAMS])
    matrix: np.ndarray = _EXITS / _EXITS.sum(axis=1, keepdims=True) * (1.0 - stay)[:, None]
    matrix[np.diag_indices(len(REGIMES))] = stay
    return matrix


def sessions(start: date, n_days: int) -> np.ndarray:
    """The first `n_days` weekdays on or after `start`, as datetime64[D]."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    return np.busday_offset(first, np.arange(n_days))


def generate_market(
    n_symbols: int = 30, n_days: int = 1260, start: date = date(2019, 1, 2), seed: int = 7
) -> SyntheticMarket:
    """A market of `n_symbols` daily series over `n_days` weekdays from `start`, fixed by `seed`.

    Bars are in BAR_SCHEMA, sorted by symbol then time, and pass `validate_bars`; adj_close
    equals close (the market has no dividends or splits). Symbols are SYN001, SYN002, ...
    """
    if n_symbols < 1:
        raise InvalidArgument.for_field("n_symbols", "must be at least 1")
    if n_days < 1:
        raise InvalidArgument.for_field("n_days", "must be at least 1")
    rng = np.random.default_rng(seed)
    days = sessions(start, n_days)
    regime = _regime_path(rng, n_days)
    market = _market_factor(rng, regime)
    bars = _bars(rng, regime, market, n_symbols)
    width = max(3, len(str(n_symbols)))
    symbols = [f"SYN{i:0{width}d}" for i in range(1, n_symbols + 1)]
    micros = days.astype("datetime64[us]").astype(np.int64)
    return SyntheticMarket(
        bars=_bar_table(symbols, micros, bars),
        regimes=pa.Table.from_arrays(
            [
                pa.array(micros, type=TIME_TYPE),
                pa.DictionaryArray.from_arrays(
                    pa.array(regime, type=pa.int32()), pa.array(REGIMES)
                ).cast(pa.string()),
            ],
            schema=REGIME_SCHEMA,
        ),
        symbols=symbols,
    )


def _regime_path(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Regime index per session: a Markov chain started from its stationary distribution."""
    matrix = transition_matrix()
    values, vectors = np.linalg.eig(matrix.T)
    stationary = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    stationary = stationary / stationary.sum()
    cumulative = np.cumsum(matrix, axis=1)
    draws = rng.random(n_days)
    path = np.empty(n_days, dtype=np.int64)
    state = min(int(np.searchsorted(np.cumsum(stationary), draws[0])), len(REGIMES) - 1)
    path[0] = state
    for t in range(1, n_days):  # sequential by nature; n_days scalar steps are cheap
        state = min(int(np.searchsorted(cumulative[state], draws[t])), len(REGIMES) - 1)
        path[t] = state
    return path


def _student_t(rng: np.random.Generator, df: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-variance Student-t draws; `df` broadcasts against `shape`."""
    normal = rng.standard_normal(shape)
    chi2 = rng.chisquare(np.broadcast_to(df, shape))
    scale: np.ndarray = np.sqrt((df - 2.0) / df)
    result: np.ndarray = normal / np.sqrt(chi2 / df) * scale
    return result


def _column(regime: np.ndarray, name: str) -> np.ndarray:
    values: np.ndarray = np.array([getattr(p, name) for p in _PARAMS])[regime]
    return values


def _market_factor(rng: np.random.Generator, regime: np.ndarray) -> np.ndarray:
    """Market log return per session: regime drift and fat-tailed shocks with clustered vol.

    In range-bound regimes the market mean-reverts towards its level at the regime's start.
    """
    n = len(regime)
    shocks = _student_t(rng, _column(regime, "tail_df"), (n,))
    vol_noise = rng.standard_normal(n) * _VOL_OF_VOL
    drift, vol = _column(regime, "drift"), _column(regime, "vol")
    ranging = regime == REGIMES.index("range_bound")
    out = np.empty(n)
    log_vol = 0.0
    deviation = 0.0
    for t in range(n):  # scalar recursion over sessions (vol clustering, mean reversion)
        log_vol = _VOL_PERSISTENCE * log_vol + vol_noise[t]
        value = drift[t] + vol[t] * np.exp(log_vol) * shocks[t]
        if ranging[t]:
            if t == 0 or not ranging[t - 1]:
                deviation = 0.0
            value -= _RANGE_REVERSION * deviation
            deviation += value
        out[t] = value
    return out


@dataclass(frozen=True)
class _Bars:
    open: np.ndarray  # (n_days, n_symbols)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _bars(
    rng: np.random.Generator, regime: np.ndarray, market: np.ndarray, n_symbols: int
) -> _Bars:
    n_days = len(regime)
    shape = (n_days, n_symbols)
    # Per-symbol traits.
    n_sectors = max(1, min(11, round(n_symbols**0.5)))
    sector = rng.permutation(np.arange(n_symbols) % n_sectors)
    beta = np.clip(rng.normal(1.0, 0.3, n_symbols), 0.3, 2.0)
    loading = rng.uniform(0.5, 1.3, n_symbols)
    idio_vol = np.clip(rng.lognormal(np.log(0.012), 0.35, n_symbols), 0.005, 0.04)
    alpha = rng.normal(0.0001, 0.0002, n_symbols)
    start_price = np.exp(rng.uniform(np.log(15.0), np.log(400.0), n_symbols))
    base_volume = rng.lognormal(np.log(2e6), 1.0, n_symbols)

    # Returns: factor model plus fat-tailed idiosyncratic shocks and Poisson jumps.
    sector_vol = _column(regime, "sector_vol")[:, None]
    sectors = rng.standard_normal((n_days, n_sectors)) * sector_vol
    idio_sd = idio_vol[None, :] * _column(regime, "idio_scale")[:, None]
    idio = _student_t(rng, np.array(5.0), shape) * idio_sd
    jump_count = rng.poisson(np.broadcast_to(_column(regime, "jump_rate")[:, None], shape))
    jump_size = _column(regime, "jump_mean")[:, None] + _column(regime, "jump_vol")[
        :, None
    ] * rng.standard_normal(shape)
    returns = alpha + beta * market[:, None] + loading * sectors[:, sector] + idio
    returns += np.minimum(jump_count, 2) * jump_size
    np.clip(returns, -_MAX_ABS_RETURN, _MAX_ABS_RETURN, out=returns)
    sigma = np.sqrt(
        (beta * _column(regime, "vol")[:, None]) ** 2 + (loading * sector_vol) ** 2 + idio_sd**2
    )

    # Prices: the gap carries part of the day's move, the body the rest.
    log_close = np.log(start_price) + np.cumsum(returns, axis=0)
    log_prev = np.vstack([np.log(start_price)[None, :], log_close[:-1]])
    gap = _GAP_SHARE * returns + 0.2 * sigma * rng.standard_normal(shape)
    log_open = log_prev + gap
    body_top = np.maximum(log_open, log_close)
    body_bottom = np.minimum(log_open, log_close)
    log_high = body_top + _RANGE_SCALE * sigma * np.abs(rng.standard_normal(shape))
    log_low = body_bottom - _RANGE_SCALE * sigma * np.abs(rng.standard_normal(shape))

    # Volume: symbol level x move size x regime, with AR(1) day-to-day noise.
    noise = rng.standard_normal(shape) * _VOLUME_NOISE
    for t in range(1, n_days):
        noise[t] += _VOLUME_PERSISTENCE * noise[t - 1]
    log_volume = (
        np.log(base_volume)
        + _VOLUME_PER_SIGMA * np.abs(returns) / sigma
        + _column(regime, "volume_shift")[:, None]
        + noise
    )

    def cents(log_price: np.ndarray) -> np.ndarray:
        # Rounding and the floor are monotone, so high >= open, close >= low survives them.
        price: np.ndarray = np.maximum(np.round(np.exp(log_price), 2), 0.01)
        return price

    return _Bars(
        open=cents(log_open),
        high=cents(log_high),
        low=cents(log_low),
        close=cents(log_close),
        volume=np.maximum(np.round(np.exp(log_volume)), 100.0),
    )


def _bar_table(symbols: list[str], micros: np.ndarray, bars: _Bars) -> pa.Table:
    """Symbol-major layout (already sorted by symbol, then time)."""
    n_days, n_symbols = bars.close.shape

    def flat(values: np.ndarray) -> pa.Array:
        return pa.array(np.ascontiguousarray(values.T).ravel(), type=pa.float64())

    symbol_index = np.repeat(np.arange(n_symbols, dtype=np.int32), n_days)
    close = flat(bars.close)
    arrays = [
        pa.DictionaryArray.from_arrays(symbol_index, pa.array(symbols)).cast(pa.string()),
        pa.array(np.tile(micros, n_symbols), type=TIME_TYPE),
        flat(bars.open),
        flat(bars.high),
        flat(bars.low),
        close,
        flat(bars.volume),
        close,
    ]
    return pa.Table.from_arrays(arrays, schema=BAR_SCHEMA)
