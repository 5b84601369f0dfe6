"""Feature kinds DuckDB computes with window functions over each symbol's bars.

Each kind is a SQL expression over the `BASE_COLUMNS` of one row (the bar, its row number `rn`
in the symbol's series, and per-bar helpers derived from the previous bar) and window aggregates
over trailing frames of that series: a frame ends at the current row, so nothing looks ahead.
Warm-up rows (fewer bars than the window needs) are NULL, matching where TA-Lib has no value.

The windows run over all symbols' bars in (symbol, time) order without `PARTITION BY symbol`
(only `rn` is numbered per symbol): DuckDB sets up each window aggregate once per partition,
which for a live read of a few thousand rows cost more than the aggregation itself. Frames and
lags may therefore reach into the previous symbol's last bars, but only on warm-up rows: each
kind declares its `warmup`, the bars its value reads (the current one and `warmup - 1` before
it), and `SqlKind.sql` keeps its value from the symbol's `warmup`-th bar on, where every bar read
is the symbol's own. So a kind's warm-up must cover everything its expression reads back
(`tests/unit/marketdata/features/test_live_features.py` checks every kind against the
partitioned form), and `lookback` (warmup - 1) bars before a row are all it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.marketdata.domain.features.definition import ParamValue

Params = Mapping[str, ParamValue]

_SERIES = "PARTITION BY symbol ORDER BY time"
#: The order of the value windows: the symbols' series one after the other (see the module doc).
_ROWS = "ORDER BY symbol, time"

_TP = "((high + low + close) / 3.0)"
_PREV_TP = f"lag({_TP}) OVER ({_ROWS})"
_TP_CHANGE = f"({_TP} - {_PREV_TP})"
# TA-Lib (TA_IS_ZERO_SCALED) treats a change within 1e-14 of the prices' size as no change.
_TP_MOVED = f"abs({_TP_CHANGE}) > 1e-14 * (abs({_TP}) + abs({_PREV_TP}))"

#: Per-row helper columns every kind may use, computed once before the features. Those that read
#: the previous bar are the previous symbol's on a symbol's first bar (`rn` = 1): a kind reading
#: them has a warm-up of at least 2.
BASE_COLUMNS: dict[str, str] = {
    "rn": f"row_number() OVER ({_SERIES})",
    "prev_close": f"lag(close) OVER ({_ROWS})",
    "r1": f"ln(close / lag(close) OVER ({_ROWS}))",
    # TA-Lib's typical price and its money flow, split by the typical price's change (MFI).
    "pos_mf": f"CASE WHEN {_TP_MOVED} AND {_TP_CHANGE} >= 0 THEN {_TP} * volume ELSE 0.0 END",
    "neg_mf": f"CASE WHEN {_TP_MOVED} AND {_TP_CHANGE} < 0 THEN {_TP} * volume ELSE 0.0 END",
    # Chaikin money flow volume (TA-Lib's AD increment): 0 when the bar has no range.
    "mfv": """CASE WHEN high - low > 0
                   THEN ((close - low) - (high - close)) / (high - low) * volume ELSE 0.0 END""",
    # On-balance volume's increment: the volume signed by the close's change.
    "signed_vol": f"""CASE WHEN close > lag(close) OVER ({_ROWS}) THEN volume
                        WHEN close < lag(close) OVER ({_ROWS}) THEN -volume ELSE 0.0 END""",
}


def trailing(n: int) -> str:
    """The window of the current row and the n - 1 rows before it (the symbol's own from its
    n-th bar on)."""
    return f"({_ROWS} ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW)"


def _lag(column: str, n: int) -> str:
    """`column` n rows before (the symbol's own from its n + 1-th bar on)."""
    return f"lag({column}, {n}) OVER ({_ROWS})"


def _one(p: Params) -> int:
    return 1


@dataclass(frozen=True)
class SqlKind:
    """A kind's parameter names and types, the SQL expression it stands for, and its warm-up:
    the bars the expression reads, the current one included (it reads nothing further back)."""

    params: tuple[tuple[str, type[int] | type[float]], ...]
    expression: Callable[[Params], str]
    doc: str
    warmup: Callable[[Params], int] = _one

    def sql(self, params: Params) -> str:
        """The expression from the symbol's `warmup`-th bar on, NULL before."""
        rows = self.warmup(params)
        expression = self.expression(params)
        return expression if rows <= 1 else f"CASE WHEN rn >= {rows} THEN {expression} END"

    def lookback(self, params: Params) -> int:
        """How many bars before a row its value reads."""
        return self.warmup(params) - 1


def _n(p: Params) -> int:
    return int(p["period"])


def _n_plus_1(p: Params) -> int:
    return _n(p) + 1


def _log_return(p: Params) -> str:
    return f"ln(close / {_lag('close', _n(p))})"


def _realized_vol(p: Params) -> str:
    return f"stddev_pop(r1) OVER {trailing(_n(p))}"


def _sma_ratio(p: Params) -> str:
    return f"close / avg(close) OVER {trailing(_n(p))} - 1.0"


def _bollinger(p: Params, value: str) -> str:
    n, k = _n(p), float(p["nbdev"])
    mean, sd = f"avg(close) OVER {trailing(n)}", f"stddev_pop(close) OVER {trailing(n)}"
    upper, lower = f"({mean} + {k!r} * {sd})", f"({mean} - {k!r} * {sd})"
    return {
        "pctb": f"(close - {lower}) / ({upper} - {lower})",
        "width": f"({upper} - {lower}) / {mean}",
    }[value]


def _highest(n: int) -> str:
    return f"max(high) OVER {trailing(n)}"


def _lowest(n: int) -> str:
    return f"min(low) OVER {trailing(n)}"


def _willr(p: Params) -> str:
    n = _n(p)
    hh, ll = _highest(n), _lowest(n)
    return f"CASE WHEN {hh} - {ll} != 0 THEN -100.0 * ({hh} - close) / ({hh} - {ll}) ELSE 0.0 END"


def _roc(p: Params) -> str:
    return f"(close / {_lag('close', _n(p))} - 1.0) * 100.0"


def _momentum(p: Params) -> str:
    return f"(close - {_lag('close', _n(p))}) / close"


def _donchian(p: Params) -> str:
    n = _n(p)
    hh, ll = _highest(n), _lowest(n)
    return f"CASE WHEN {hh} > {ll} THEN (close - {ll}) / ({hh} - {ll}) ELSE 0.5 END"


def _volume_zscore(p: Params) -> str:
    n = _n(p)
    return f"(volume - avg(volume) OVER {trailing(n)}) / stddev_pop(volume) OVER {trailing(n)}"


def _flow_ratio(p: Params, flow: str) -> str:
    n = _n(p)
    return f"sum({flow}) OVER {trailing(n)} / sum(volume) OVER {trailing(n)}"


def _mfi(p: Params) -> str:
    n = _n(p)
    pos, neg = f"sum(pos_mf) OVER {trailing(n)}", f"sum(neg_mf) OVER {trailing(n)}"
    # TA-Lib answers 0 for a window without money flow.
    return f"CASE WHEN {pos} + {neg} <= 0 THEN 0.0 ELSE 100.0 * ({pos} / ({pos} + {neg})) END"


def _shape(part: str) -> str:
    numerator = {
        "body": "close - open",
        "upper": "high - greatest(open, close)",
        "lower": "least(open, close) - low",
    }[part]
    return f"CASE WHEN high > low THEN ({numerator}) / (high - low) ELSE 0.0 END"


_PERIOD = (("period", int),)
_BANDS = (("period", int), ("nbdev", float))

# Warm-ups: a trailing(n) frame reads n bars (n + 1 over a helper of the previous bar: r1,
# pos_mf, neg_mf, signed_vol), a lag of n reads n + 1.
SQL_KINDS: dict[str, SqlKind] = {
    "log_return": SqlKind(_PERIOD, _log_return, "ln(close / close n bars before)", _n_plus_1),
    "realized_vol": SqlKind(
        _PERIOD,
        _realized_vol,
        "population std of 1-bar log returns (TA-Lib STDDEV)",
        _n_plus_1,
    ),
    "sma_ratio": SqlKind(_PERIOD, _sma_ratio, "close / SMA - 1", _n),
    "bollinger_pctb": SqlKind(
        _BANDS,
        lambda p: _bollinger(p, "pctb"),
        "Bollinger %B: 0 at the lower, 1 at the upper",
        _n,
    ),
    "bollinger_width": SqlKind(
        _BANDS, lambda p: _bollinger(p, "width"), "(upper - lower) / middle band", _n
    ),
    "willr": SqlKind(_PERIOD, _willr, "Williams %R, -100..0", _n),
    "roc": SqlKind(_PERIOD, _roc, "rate of change, % (TA-Lib ROC)", _n_plus_1),
    "momentum": SqlKind(_PERIOD, _momentum, "(close - close n bars before) / close", _n_plus_1),
    "donchian_position": SqlKind(
        _PERIOD, _donchian, "close in the n-bar high-low channel, 0..1 (0.5 when flat)", _n
    ),
    "volume_zscore": SqlKind(_PERIOD, _volume_zscore, "z-score of volume over n bars", _n),
    "obv_flow": SqlKind(
        _PERIOD,
        lambda p: _flow_ratio(p, "signed_vol"),
        "OBV change over n bars / volume over n bars, -1..1",
        _n_plus_1,
    ),
    "mfi": SqlKind(_PERIOD, _mfi, "money flow index, 0..100", _n_plus_1),
    "cmf": SqlKind(_PERIOD, lambda p: _flow_ratio(p, "mfv"), "Chaikin money flow, -1..1", _n),
    "candle_body": SqlKind((), lambda p: _shape("body"), "(close - open) / range, -1..1"),
    "candle_upper_shadow": SqlKind((), lambda p: _shape("upper"), "upper shadow / range, 0..1"),
    "candle_lower_shadow": SqlKind((), lambda p: _shape("lower"), "lower shadow / range, 0..1"),
    "gap": SqlKind((), lambda p: "ln(open / prev_close)", "ln(open / previous close)", lambda p: 2),
}
