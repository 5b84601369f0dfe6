"""The default view's indicators against the TA-Lib package, on the real dow30 bars (and a
small synthetic market, whose cent-rounded prices make ties and flat windows more common).

Each reference below is built from TA-Lib functions (and plain numpy arithmetic for the
normalization), never from the pipeline's code. Tolerance: |ours - TA-Lib| <= 1e-6 * |TA-Lib|
(relative), with an absolute floor of 1e-9 for values near zero. Where TA-Lib has no value yet
(its warm-up), the feature must be NULL, and everywhere else it must have one: the warm-up
lengths agree too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
import talib

from services.marketdata.domain.features import DEFAULT_VIEW
from tests.unit.marketdata.features.helpers import dow30_bars, fresh_stores, synthetic_bars

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
RTOL = 1e-6
ATOL = 1e-9

Bars = dict[str, np.ndarray]
Reference = Callable[[Bars], np.ndarray]


def _shift(values: np.ndarray, n: int) -> np.ndarray:
    """values[t - n] at t (NaN for t < n)."""
    out = np.full_like(values, np.nan)
    out[n:] = values[:-n]
    return out


def _window_sum_of(cumulative: np.ndarray, n: int) -> np.ndarray:
    """Sum of the last n increments of a TA-Lib cumulative indicator (AD, OBV):
    cum[t] - cum[t - n], with cum[-1] = 0."""
    padded = np.r_[0.0, cumulative]
    out = np.full_like(cumulative, np.nan)
    out[n - 1 :] = padded[n:] - padded[:-n]
    return out


def _log_returns(c: np.ndarray) -> np.ndarray:
    return np.asarray(np.r_[np.nan, np.log(c[1:] / c[:-1])], dtype=np.float64)


def _atr(b: Bars, n: int) -> np.ndarray:
    return np.asarray(talib.ATR(b["high"], b["low"], b["close"], n), dtype=np.float64)


def _bbands(b: Bars) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    upper, middle, lower = talib.BBANDS(b["close"], 20, 2.0, 2.0)  # SMA middle
    return upper, middle, lower


REFERENCES: dict[str, Reference] = {
    **{
        f"log_ret_{n}": (lambda b, n=n: np.log(talib.ROCR(b["close"], n)))  # type: ignore[misc]
        for n in (1, 5, 20)
    },
    **{
        f"realized_vol_{n}": (lambda b, n=n: talib.STDDEV(_log_returns(b["close"]), n, 1.0))  # type: ignore[misc]
        for n in (5, 20, 60)
    },
    **{
        f"sma_ratio_{n}": (lambda b, n=n: b["close"] / talib.SMA(b["close"], n) - 1.0)  # type: ignore[misc]
        for n in (10, 20, 50)
    },
    **{
        f"ema_ratio_{n}": (lambda b, n=n: b["close"] / talib.EMA(b["close"], n) - 1.0)  # type: ignore[misc]
        for n in (12, 26, 50)
    },
    "rsi_14": lambda b: talib.RSI(b["close"], 14),
    "macd_line": lambda b: talib.MACD(b["close"], 12, 26, 9)[0] / b["close"],
    "macd_signal": lambda b: talib.MACD(b["close"], 12, 26, 9)[1] / b["close"],
    "macd_hist": lambda b: talib.MACD(b["close"], 12, 26, 9)[2] / b["close"],
    "bb_pctb_20": lambda b: (b["close"] - _bbands(b)[2]) / (_bbands(b)[0] - _bbands(b)[2]),
    "bb_width_20": lambda b: (_bbands(b)[0] - _bbands(b)[2]) / _bbands(b)[1],
    "natr_14": lambda b: talib.NATR(b["high"], b["low"], b["close"], 14),
    "atr_ratio_14": lambda b: (
        talib.TRANGE(b["high"], b["low"], b["close"])
        / talib.ATR(b["high"], b["low"], b["close"], 14)
    ),
    "adx_14": lambda b: talib.ADX(b["high"], b["low"], b["close"], 14),
    "plus_di_14": lambda b: talib.PLUS_DI(b["high"], b["low"], b["close"], 14),
    "minus_di_14": lambda b: talib.MINUS_DI(b["high"], b["low"], b["close"], 14),
    "cci_20": lambda b: talib.CCI(b["high"], b["low"], b["close"], 20),
    "stoch_k": lambda b: talib.STOCH(b["high"], b["low"], b["close"], 14, 3, slowd_period=3)[0],
    "stoch_d": lambda b: talib.STOCH(b["high"], b["low"], b["close"], 14, 3, slowd_period=3)[1],
    "willr_14": lambda b: talib.WILLR(b["high"], b["low"], b["close"], 14),
    "roc_10": lambda b: talib.ROC(b["close"], 10),
    "mom_10": lambda b: talib.MOM(b["close"], 10) / b["close"],
    "obv_flow_20": lambda b: (
        # OBV's first increment has no previous close: the flow needs 20 signed increments.
        _shift(np.ones_like(b["close"]), 20)
        * _window_sum_of(talib.OBV(b["close"], b["volume"]), 20)
        / talib.SUM(b["volume"], 20)
    ),
    "mfi_14": lambda b: talib.MFI(b["high"], b["low"], b["close"], b["volume"], 14),
    "cmf_20": lambda b: (
        _window_sum_of(talib.AD(b["high"], b["low"], b["close"], b["volume"]), 20)
        / talib.SUM(b["volume"], 20)
    ),
    "aroon_up_14": lambda b: talib.AROON(b["high"], b["low"], 14)[1],
    "aroon_down_14": lambda b: talib.AROON(b["high"], b["low"], 14)[0],
    "trix_15": lambda b: talib.TRIX(b["close"], 15),
    "donchian_pos_20": lambda b: (
        (b["close"] - talib.MIN(b["low"], 20))
        / (talib.MAX(b["high"], 20) - talib.MIN(b["low"], 20))
    ),
    "keltner_pos_20": lambda b: (
        (b["close"] - (talib.EMA(b["close"], 20) - 2.0 * _atr(b, 10))) / (4.0 * _atr(b, 10))
    ),
    "volume_z_20": lambda b: (
        (b["volume"] - talib.SMA(b["volume"], 20)) / talib.STDDEV(b["volume"], 20, 1.0)
    ),
}


@pytest.fixture(scope="module", params=["dow30", "synthetic"])
def computed(request: pytest.FixtureRequest) -> dict[str, tuple[Bars, pa.Table]]:
    """Per symbol: its bars as arrays and its features, materialized through the store."""
    bars = dow30_bars() if request.param == "dow30" else synthetic_bars(8, 400)
    stores = fresh_stores(bars)
    try:
        version = stores.features.materialize(DEFAULT_VIEW)
        features = stores.features.read(version.name, version.version)
    finally:
        stores.close()
    out = {}
    for symbol in bars.column("symbol").unique().to_pylist():
        mask = pa.compute.equal(bars.column("symbol"), symbol)
        own = bars.filter(mask)
        arrays = {c: own.column(c).to_numpy().astype(np.float64) for c in PRICE_COLUMNS}
        out[symbol] = (arrays, features.filter(pa.compute.equal(features.column("symbol"), symbol)))
    return out


def test_every_talib_indicator_of_the_default_view_has_a_reference() -> None:
    ours = set(DEFAULT_VIEW.feature_names)
    without_talib = {"candle_body", "candle_upper", "candle_lower", "gap"}
    ranks = {n for n in ours if n.startswith("cs_rank_")}
    assert set(REFERENCES) == ours - without_talib - ranks


@pytest.mark.parametrize("feature", sorted(REFERENCES))
def test_matches_talib(feature: str, computed: dict[str, tuple[Bars, pa.Table]]) -> None:
    worst = 0.0
    for symbol, (bars, features) in computed.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = np.asarray(REFERENCES[feature](bars), dtype=np.float64)
        expected[~np.isfinite(expected)] = np.nan
        column = features.column(feature)
        ours = column.to_numpy(zero_copy_only=False).astype(np.float64)
        assert len(ours) == len(expected)
        missing = np.isnan(expected)
        null = np.asarray(column.is_null())
        first_bad = np.flatnonzero(missing != null)
        assert first_bad.size == 0, (
            f"{symbol} {feature}: NULL where TA-Lib has a value (or the reverse) from row "
            f"{first_bad[0]}: ours {ours[first_bad[0]]}, TA-Lib {expected[first_bad[0]]}"
        )
        assert np.count_nonzero(~missing) > len(ours) // 2
        error = np.abs(ours[~missing] - expected[~missing])
        allowed = RTOL * np.abs(expected[~missing]) + ATOL
        assert np.all(error <= allowed), (
            f"{symbol} {feature}: off by {error.max():.3g} at row "
            f"{np.flatnonzero(~missing)[np.argmax(error - allowed)]}"
        )
        worst = max(worst, float((error / allowed).max()))
    print(f"{feature}: worst error {worst:.1e} of the tolerance")
