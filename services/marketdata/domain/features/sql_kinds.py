"""Feature kinds DuckDB computes with window functions over each symbol's bars.

Each kind is a SQL expression over the `BASE_COLUMNS` of one row (the bar, its row number `rn`
in the symbol's series, and per-bar helpers derived from the previous bar) and window aggregates
over trailing frames of that series: a frame ends at the current row, so nothing looks ahead.
Warm-up rows (fewer bars than the window needs) are NULL, matching where TA-Lib has no value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.marketdata.domain.features.definition import ParamValue

Params = Mapping[str, ParamValue]

_SERIES = "PARTITION BY symbol ORDER BY time"

_TP = "((high + low + close) / 3.0)"
_PREV_TP = f"lag({_TP}) OVER ({_SERIES})"
_TP_CHANGE = f"({_TP} - {_PREV_TP})"
# TA-Lib (TA_IS_ZERO_SCALED) treats a change within 1e-14 of the prices' size as no change.
_TP_MOVED = f"abs({_TP_CHANGE}) > 1e-14 * (abs({_TP}) + abs({_PREV_TP}))"

#: Per-row helper columns every kind may use, computed once before the features.
BASE_COLUMNS: dict[str, str] = {
    "rn": f"row_number() OVER ({_SERIES})",
    "prev_close": f"lag(close) OVER ({_SERIES})",
    "r1": f"ln(close / lag(close) OVER ({_SERIES}))",
    # TA-Lib's typical price and its money flow, split by the typical price's change (MFI).
    "pos_mf": f"CASE WHEN {_TP_MOVED} AND {_TP_CHANGE} >= 0 THEN {_TP} * volume ELSE 0.0 END",
    "neg_mf": f"CASE WHEN {_TP_MOVED} AND {_TP_CHANGE} < 0 THEN {_TP} * volume ELSE 0.0 END",
    # Chaikin money flow volume (TA-Lib's AD increment): 0 when the bar has no range.
    "mfv": """CASE WHEN high - low > 0
                   THEN ((close - low) - (high - close)) / (high - low) * volume ELSE 0.0 END""",
    # On-balance volume's increment: the volume signed by the close's change.
    "signed_vol": f"""CASE WHEN close > lag(close) OVER ({_SERIES}) THEN volume
                        WHEN close < lag(close) OVER ({_SERIES}) THEN -volume ELSE 0.0 END""",
}


def trailing(n: int) -> str:
    """The window of the current row and the n - 1 rows before it, within the symbol."""
    return f"({_SERIES} ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW)"


def _after_warmup(rows: int, expression: str) -> str:
    """`expression` from the symbol's `rows`-th bar on, NULL before."""
    return f"CASE WHEN rn >= {rows} THEN {expression} END"


@dataclass(frozen=True)
class SqlKind:
    """A kind's parameter names and types and the SQL expression it stands for."""

    params: tuple[tuple[str, type[int] | type[float]], ...]
    sql: Callable[[Params], str]
    doc: str


def _n(p: Params) -> int:
    return int(p["period"])


def _log_return(p: Params) -> str:
    n = _n(p)
    return _after_warmup(n + 1, f"ln(close / lag(close, {n}) OVER ({_SERIES}))")


def _realized_vol(p: Params) -> str:
    n = _n(p)
    return _after_warmup(n + 1, f"stddev_pop(r1) OVER {trailing(n)}")


def _sma_ratio(p: Params) -> str:
    n = _n(p)
    return _after_warmup(n, f"close / avg(close) OVER {trailing(n)} - 1.0")


def _bollinger(p: Params, value: str) -> str:
    n, k = _n(p), float(p["nbdev"])
    mean, sd = f"avg(close) OVER {trailing(n)}", f"stddev_pop(close) OVER {trailing(n)}"
    upper, lower = f"({mean} + {k!r} * {sd})", f"({mean} - {k!r} * {sd})"
    expression = {
        "pctb": f"(close - {lower}) / ({upper} - {lower})",
        "width": f"({upper} - {lower}) / {mean}",
    }[value]
    return _after_warmup(n, expression)


def _highest(n: int) -> str:
    return f"max(high) OVER {trailing(n)}"


def _lowest(n: int) -> str:
    return f"min(low) OVER {trailing(n)}"


def _willr(p: Params) -> str:
    n = _n(p)
    hh, ll = _highest(n), _lowest(n)
    return _after_warmup(
        n, f"CASE WHEN {hh} - {ll} != 0 THEN -100.0 * ({hh} - close) / ({hh} - {ll}) ELSE 0.0 END"
    )


def _roc(p: Params) -> str:
    n = _n(p)
    return _after_warmup(n + 1, f"(close / lag(close, {n}) OVER ({_SERIES}) - 1.0) * 100.0")


def _momentum(p: Params) -> str:
    n = _n(p)
    return _after_warmup(n + 1, f"(close - lag(close, {n}) OVER ({_SERIES})) / close")


def _donchian(p: Params) -> str:
    n = _n(p)
    hh, ll = _highest(n), _lowest(n)
    return _after_warmup(
        n, f"CASE WHEN {hh} > {ll} THEN (close - {ll}) / ({hh} - {ll}) ELSE 0.5 END"
    )


def _volume_zscore(p: Params) -> str:
    n = _n(p)
    return _after_warmup(
        n,
        f"(volume - avg(volume) OVER {trailing(n)}) / stddev_pop(volume) OVER {trailing(n)}",
    )


def _flow_ratio(p: Params, flow: str, warmup: int) -> str:
    n = _n(p)
    return _after_warmup(warmup, f"sum({flow}) OVER {trailing(n)} / sum(volume) OVER {trailing(n)}")


def _mfi(p: Params) -> str:
    n = _n(p)
    pos, neg = f"sum(pos_mf) OVER {trailing(n)}", f"sum(neg_mf) OVER {trailing(n)}"
    # TA-Lib answers 0 for a window without money flow.
    return _after_warmup(
        n + 1, f"CASE WHEN {pos} + {neg} <= 0 THEN 0.0 ELSE 100.0 * ({pos} / ({pos} + {neg})) END"
    )


def _shape(part: str) -> str:
    numerator = {
        "body": "close - open",
        "upper": "high - greatest(open, close)",
        "lower": "least(open, close) - low",
    }[part]
    return f"CASE WHEN high > low THEN ({numerator}) / (high - low) ELSE 0.0 END"


_PERIOD = (("period", int),)
_BANDS = (("period", int), ("nbdev", float))

SQL_KINDS: dict[str, SqlKind] = {
    "log_return": SqlKind(_PERIOD, _log_return, "ln(close / close n bars before)"),
    "realized_vol": SqlKind(
        _PERIOD, _realized_vol, "population std of 1-bar log returns (TA-Lib STDDEV)"
    ),
    "sma_ratio": SqlKind(_PERIOD, _sma_ratio, "close / SMA - 1"),
    "bollinger_pctb": SqlKind(
        _BANDS, lambda p: _bollinger(p, "pctb"), "Bollinger %B: 0 at the lower, 1 at the upper"
    ),
    "bollinger_width": SqlKind(
        _BANDS, lambda p: _bollinger(p, "width"), "(upper - lower) / middle band"
    ),
    "willr": SqlKind(_PERIOD, _willr, "Williams %R, -100..0"),
    "roc": SqlKind(_PERIOD, _roc, "rate of change, % (TA-Lib ROC)"),
    "momentum": SqlKind(_PERIOD, _momentum, "(close - close n bars before) / close"),
    "donchian_position": SqlKind(
        _PERIOD, _donchian, "close in the n-bar high-low channel, 0..1 (0.5 when flat)"
    ),
    "volume_zscore": SqlKind(_PERIOD, _volume_zscore, "z-score of volume over n bars"),
    "obv_flow": SqlKind(
        _PERIOD,
        lambda p: _flow_ratio(p, "signed_vol", _n(p) + 1),
        "OBV change over n bars / volume over n bars, -1..1",
    ),
    "mfi": SqlKind(_PERIOD, _mfi, "money flow index, 0..100"),
    "cmf": SqlKind(_PERIOD, lambda p: _flow_ratio(p, "mfv", _n(p)), "Chaikin money flow, -1..1"),
    "candle_body": SqlKind((), lambda p: _shape("body"), "(close - open) / range, -1..1"),
    "candle_upper_shadow": SqlKind((), lambda p: _shape("upper"), "upper shadow / range, 0..1"),
    "candle_lower_shadow": SqlKind((), lambda p: _shape("lower"), "lower shadow / range, 0..1"),
    "gap": SqlKind(
        (), lambda p: _after_warmup(2, "ln(open / prev_close)"), "ln(open / previous close)"
    ),
}
