"""The default feature view: 45 technical features over daily (or any) bars.

Windows are in bars. Every value is scale-free (a return, a ratio to the price or to the volume,
or an oscillator on a fixed scale), so features compare across symbols and over time.
"""

from __future__ import annotations

from services.marketdata.domain.features.catalog import CS_RANK, define_view
from services.marketdata.domain.features.definition import FeatureSpec, ParamValue

DEFAULT_VIEW_NAME = "default"


def _spec(name: str, kind: str, **params: ParamValue) -> FeatureSpec:
    return FeatureSpec(name, kind, params)


_MACD = {"fast": 12, "slow": 26, "signal": 9}
_STOCH = {"fastk": 14, "slowk": 3, "slowd": 3}

DEFAULT_VIEW = define_view(
    DEFAULT_VIEW_NAME,
    [
        *(_spec(f"log_ret_{n}", "log_return", period=n) for n in (1, 5, 20)),
        *(_spec(f"realized_vol_{n}", "realized_vol", period=n) for n in (5, 20, 60)),
        *(_spec(f"sma_ratio_{n}", "sma_ratio", period=n) for n in (10, 20, 50)),
        *(_spec(f"ema_ratio_{n}", "ema_ratio", period=n) for n in (12, 26, 50)),
        _spec("rsi_14", "rsi", period=14),
        _spec("macd_line", "macd_line", **_MACD),
        _spec("macd_signal", "macd_signal", **_MACD),
        _spec("macd_hist", "macd_hist", **_MACD),
        _spec("bb_pctb_20", "bollinger_pctb", period=20, nbdev=2.0),
        _spec("bb_width_20", "bollinger_width", period=20, nbdev=2.0),
        _spec("natr_14", "natr", period=14),
        _spec("atr_ratio_14", "atr_ratio", period=14),
        _spec("adx_14", "adx", period=14),
        _spec("plus_di_14", "plus_di", period=14),
        _spec("minus_di_14", "minus_di", period=14),
        _spec("cci_20", "cci", period=20),
        _spec("stoch_k", "stoch_k", **_STOCH),
        _spec("stoch_d", "stoch_d", **_STOCH),
        _spec("willr_14", "willr", period=14),
        _spec("roc_10", "roc", period=10),
        _spec("mom_10", "momentum", period=10),
        _spec("obv_flow_20", "obv_flow", period=20),
        _spec("mfi_14", "mfi", period=14),
        _spec("cmf_20", "cmf", period=20),
        _spec("aroon_up_14", "aroon_up", period=14),
        _spec("aroon_down_14", "aroon_down", period=14),
        _spec("trix_15", "trix", period=15),
        _spec("donchian_pos_20", "donchian_position", period=20),
        _spec("keltner_pos_20", "keltner_position", period=20, atr_period=10, multiplier=2.0),
        _spec("volume_z_20", "volume_zscore", period=20),
        _spec("candle_body", "candle_body"),
        _spec("candle_upper", "candle_upper_shadow"),
        _spec("candle_lower", "candle_lower_shadow"),
        _spec("gap", "gap"),
        _spec("cs_rank_ret_1", CS_RANK, source="log_ret_1"),
        _spec("cs_rank_ret_20", CS_RANK, source="log_ret_20"),
        _spec("cs_rank_vol_20", CS_RANK, source="realized_vol_20"),
    ],
    description="Technical indicators (TA-Lib conventions), normalized to be scale-free, and "
    "cross-sectional ranks of return and volatility.",
)
