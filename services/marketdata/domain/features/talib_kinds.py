"""Feature kinds computed per symbol with TA-Lib (recursive smoothers: EMA, Wilder, ...).

Each kind maps one symbol's bar arrays and its parameters to one float64 array aligned with the
bars (NaN during warm-up). Values follow TA-Lib exactly (its seeding and Wilder smoothing); the
price-scale-dependent ones are divided by the close, so they compare across symbols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import talib

from services.marketdata.domain.features.definition import ParamValue

Params = Mapping[str, ParamValue]
Array = np.ndarray


@dataclass
class Series:
    """One symbol's bars as contiguous float64 arrays, with a memo for shared computations."""

    open: Array
    high: Array
    low: Array
    close: Array
    volume: Array
    memo: dict[tuple[object, ...], tuple[Array, ...]] = field(default_factory=dict)

    def once(
        self, key: tuple[object, ...], compute: Callable[[], tuple[Array, ...]]
    ) -> tuple[Array, ...]:
        """`compute()` the first time `key` is asked for on this series, the stored result after."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass(frozen=True)
class TalibKind:
    """A kind's parameter names (all positive numbers) and its per-symbol computation."""

    params: tuple[tuple[str, type[int] | type[float]], ...]
    compute: Callable[[Series, Params], Array]
    doc: str


def _i(p: Params, name: str) -> int:
    return int(p[name])


def _f(p: Params, name: str) -> float:
    return float(p[name])


def _arr(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


def _macd(s: Series, p: Params) -> tuple[Array, ...]:
    fast, slow, signal = _i(p, "fast"), _i(p, "slow"), _i(p, "signal")
    return s.once(
        ("MACD", fast, slow, signal),
        lambda: tuple(
            _arr(a)
            for a in talib.MACD(s.close, fastperiod=fast, slowperiod=slow, signalperiod=signal)
        ),
    )


def _stoch(s: Series, p: Params) -> tuple[Array, ...]:
    fastk, slowk, slowd = _i(p, "fastk"), _i(p, "slowk"), _i(p, "slowd")
    return s.once(
        ("STOCH", fastk, slowk, slowd),
        lambda: tuple(
            _arr(a)
            for a in talib.STOCH(
                s.high,
                s.low,
                s.close,
                fastk_period=fastk,
                slowk_period=slowk,
                slowd_period=slowd,
            )
        ),
    )


def _aroon(s: Series, p: Params) -> tuple[Array, ...]:
    period = _i(p, "period")
    return s.once(
        ("AROON", period), lambda: tuple(_arr(a) for a in talib.AROON(s.high, s.low, period))
    )


def _atr(s: Series, period: int) -> Array:
    return s.once(("ATR", period), lambda: (_arr(talib.ATR(s.high, s.low, s.close, period)),))[0]


def _ema(s: Series, period: int) -> Array:
    return s.once(("EMA", period), lambda: (_arr(talib.EMA(s.close, period)),))[0]


def _ratio(numerator: Array, denominator: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = numerator / denominator
    return out


def _keltner_position(s: Series, p: Params) -> Array:
    """Where the close sits in the Keltner channel EMA(period) ± multiplier × ATR(atr_period):
    0 at the lower band, 1 at the upper band (outside the channel: below 0 or above 1)."""
    middle, atr, k = _ema(s, _i(p, "period")), _atr(s, _i(p, "atr_period")), _f(p, "multiplier")
    return _ratio(s.close - (middle - k * atr), 2.0 * k * atr)


_PERIOD = (("period", int),)
_MACD = (("fast", int), ("slow", int), ("signal", int))
_STOCH = (("fastk", int), ("slowk", int), ("slowd", int))

TALIB_KINDS: dict[str, TalibKind] = {
    "ema_ratio": TalibKind(
        _PERIOD, lambda s, p: s.close / _ema(s, _i(p, "period")) - 1.0, "close / EMA - 1"
    ),
    "rsi": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.RSI(s.close, _i(p, "period"))), "RSI (Wilder), 0..100"
    ),
    "macd_line": TalibKind(_MACD, lambda s, p: _macd(s, p)[0] / s.close, "MACD line / close"),
    "macd_signal": TalibKind(
        _MACD, lambda s, p: _macd(s, p)[1] / s.close, "MACD signal line / close"
    ),
    "macd_hist": TalibKind(_MACD, lambda s, p: _macd(s, p)[2] / s.close, "MACD histogram / close"),
    "natr": TalibKind(
        _PERIOD,
        lambda s, p: _arr(talib.NATR(s.high, s.low, s.close, _i(p, "period"))),
        "ATR / close × 100 (Wilder ATR)",
    ),
    "atr_ratio": TalibKind(
        _PERIOD,
        lambda s, p: _ratio(_arr(talib.TRANGE(s.high, s.low, s.close)), _atr(s, _i(p, "period"))),
        "today's true range / ATR",
    ),
    "adx": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.ADX(s.high, s.low, s.close, _i(p, "period"))), "ADX"
    ),
    "plus_di": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.PLUS_DI(s.high, s.low, s.close, _i(p, "period"))), "+DI"
    ),
    "minus_di": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.MINUS_DI(s.high, s.low, s.close, _i(p, "period"))), "-DI"
    ),
    "cci": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.CCI(s.high, s.low, s.close, _i(p, "period"))), "CCI"
    ),
    "stoch_k": TalibKind(_STOCH, lambda s, p: _stoch(s, p)[0], "slow stochastic %K, 0..100"),
    "stoch_d": TalibKind(_STOCH, lambda s, p: _stoch(s, p)[1], "slow stochastic %D, 0..100"),
    "aroon_up": TalibKind(_PERIOD, lambda s, p: _aroon(s, p)[1], "Aroon up, 0..100"),
    "aroon_down": TalibKind(_PERIOD, lambda s, p: _aroon(s, p)[0], "Aroon down, 0..100"),
    "trix": TalibKind(
        _PERIOD, lambda s, p: _arr(talib.TRIX(s.close, _i(p, "period"))), "TRIX, % per bar"
    ),
    "keltner_position": TalibKind(
        (("period", int), ("atr_period", int), ("multiplier", float)),
        _keltner_position,
        "close's position in the Keltner channel",
    ),
}
