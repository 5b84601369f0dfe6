"""The market a backtest runs on: bars, signals, regimes and features aligned on one timeline.

Rows are the union of the universe's bar times (strictly increasing); columns are the universe
symbols, in config order, followed by the extra symbols (benchmark, rules' fixed symbols).
Prices are exact (NaN where a symbol has no bar at that time); `mark`, signals, regimes and
features are as-of values: the latest one stamped at or before the row's time, so nothing from
a later time is ever visible at a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.arrays import BoolArray, FloatArray, IntArray, TimeArray
from backtest.config import Frequency, RuleSource, StrategyConfig
from services.marketdata.domain.bar_table import normalize_bars
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, OutOfRange

SIGNAL_COLUMN = "score"
REGIME_COLUMN = "regime"


@dataclass(frozen=True)
class MarketInputs:
    """The tables a backtest reads: bars (the bar table layout), and where the strategy uses
    them signals (symbol, time, score), regimes (symbol, time, regime) and features (symbol,
    time, one column per feature)."""

    bars: pa.Table
    signals: pa.Table | None = None
    regimes: pa.Table | None = None
    features: pa.Table | None = None


@dataclass(frozen=True)
class SymbolSeries:
    """One symbol's own bars, oldest first (indicators are computed on these)."""

    times: TimeArray
    close: FloatArray


@dataclass(frozen=True)
class Market:
    frequency: Frequency
    symbols: tuple[str, ...]
    n_universe: int
    times: TimeArray
    open: FloatArray
    close: FloatArray
    has_bar: BoolArray
    mark: FloatArray
    series: tuple[SymbolSeries, ...]
    #: The first row traded and reported (the first bar at or after the config's start).
    start_row: int
    signals: FloatArray | None = None
    regimes: IntArray | None = None
    regime_labels: tuple[str, ...] = ()
    features: Mapping[str, FloatArray] | None = None

    @property
    def rows(self) -> int:
        return int(self.times.size)

    def column(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def asof(self, column: int, values: FloatArray) -> FloatArray:
        """Values computed on `series[column]` (one per own bar), as of every row."""
        own = self.series[column].times
        if column < self.n_universe and own.size == self.times.size:  # a bar on every row
            return values
        return asof_rows(own, values, self.times)


def to_micros(moment: datetime) -> int:
    """A datetime as microseconds since the epoch; naive ones are read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def build_market(config: StrategyConfig, inputs: MarketInputs) -> Market:
    """Align `inputs` on the universe's timeline (bars at or after `config.end` are dropped)."""
    symbols = (*config.universe, *config.extra_symbols())
    n, m = len(config.universe), len(symbols)
    bars = normalize_bars(inputs.bars)
    codes = _codes(bars.column("symbol"), symbols)
    times = bars.column("time").cast(pa.int64()).to_numpy()
    keep = codes >= 0
    if config.end is not None:
        keep &= times < to_micros(config.end)
    codes, times = codes[keep], times[keep]
    opens = bars.column("open").to_numpy()[keep]
    closes = bars.column("close").to_numpy()[keep]
    _check_prices(opens, closes, codes, times, symbols)
    timeline = _distinct(times[codes < n])
    _check_coverage(config, codes, timeline)
    t = timeline.size
    rows = np.minimum(np.searchsorted(timeline, times), t - 1)
    exact = timeline[rows] == times
    flat = rows[exact] * m + codes[exact]
    cells = np.sort(flat, kind="stable")
    repeated = np.flatnonzero(cells[1:] == cells[:-1])
    if repeated.size:
        twice = int(cells[repeated[0]])
        raise InvalidArgument.for_field(
            "bars",
            f"two bars of {symbols[twice % m]} at {_iso(timeline[twice // m])}",
        )
    open_flat = np.full(t * m, np.nan)
    close_flat = np.full(t * m, np.nan)
    open_flat[flat] = opens[exact]
    close_flat[flat] = closes[exact]
    open_: FloatArray = open_flat.reshape(t, m)
    close: FloatArray = close_flat.reshape(t, m)
    has_bar = ~np.isnan(close)
    series = _series(close, has_bar, timeline, codes, times, closes, n)
    mark = np.empty((t, m))
    complete = bool(has_bar[:, :n].all())
    mark[:, :n] = close[:, :n] if complete else ffill(close[:, :n], has_bar[:, :n])
    for j in range(n, m):
        mark[:, j] = asof_rows(series[j].times, series[j].close, timeline)
    start_row = 0
    if config.start is not None:
        start_row = int(np.searchsorted(timeline, to_micros(config.start)))
        if start_row >= t:
            raise OutOfRange(
                f"no {config.frequency} bars of the universe at or after {config.start}",
                violations=[FieldViolation("start", "is after the last bar")],
            )
    market = Market(
        config.frequency, symbols, n, timeline, open_, close, has_bar, mark, series, start_row
    )
    return _with_values(config, market, inputs)


def ffill(values: FloatArray, present: BoolArray) -> FloatArray:
    """Each column's last present value at or before every row (NaN before the first)."""
    t = values.shape[0]
    index = np.where(present, np.arange(t)[:, None], -1)
    np.maximum.accumulate(index, axis=0, out=index)
    filled: FloatArray = np.take_along_axis(values, np.maximum(index, 0), axis=0)
    filled[index < 0] = np.nan
    return filled


def asof_rows(times: TimeArray, values: FloatArray, timeline: TimeArray) -> FloatArray:
    """`values` stamped at `times` (sorted), as of each time of `timeline`."""
    index = np.searchsorted(times, timeline, side="right") - 1
    out: FloatArray = np.full(timeline.size, np.nan)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


def _distinct(values: TimeArray) -> TimeArray:
    """Sorted distinct values (a stable sort is a radix sort for integers: fast)."""
    ordered = np.sort(values, kind="stable")
    keep = np.ones(ordered.size, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    distinct: TimeArray = ordered[keep]
    return distinct


def _codes(column: pa.ChunkedArray, symbols: Sequence[str]) -> IntArray:
    found = pc.index_in(column, value_set=pa.array(symbols, pa.string()))
    codes: IntArray = pc.fill_null(found, -1).to_numpy().astype(np.int64)
    return codes


def _iso(micros: int | np.integer) -> str:
    return datetime.fromtimestamp(int(micros) / 1e6, tz=UTC).isoformat()


def _check_prices(
    opens: FloatArray,
    closes: FloatArray,
    codes: IntArray,
    times: TimeArray,
    symbols: Sequence[str],
) -> None:
    for name, values in (("open", opens), ("close", closes)):
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidArgument.for_field(
                f"bars.{name}",
                f"must be a finite number > 0 ({symbols[codes[i]]} at {_iso(times[i])})",
            )


def _check_coverage(config: StrategyConfig, codes: IntArray, timeline: TimeArray) -> None:
    present = np.bincount(codes, minlength=len(config.universe) + len(config.extra_symbols()))
    if timeline.size == 0:
        raise OutOfRange(
            f"no {config.frequency} bars of the universe in the requested range",
            violations=[FieldViolation("universe", "has no bars in the range")],
        )
    missing = [
        FieldViolation(f"universe[{i}]", f"no {config.frequency} bars for {symbol}")
        for i, symbol in enumerate(config.universe)
        if present[i] == 0
    ]
    for j, symbol in enumerate(config.extra_symbols(), start=len(config.universe)):
        if present[j] == 0:
            paths = [f"{p}.symbol" for p, rule in config.all_rules() if rule.symbol == symbol]
            field = "benchmark" if symbol == config.benchmark else paths[0]
            missing.append(FieldViolation(field, f"no {config.frequency} bars for {symbol}"))
    if missing:
        names = ", ".join(v.description.rsplit(" ", 1)[-1] for v in missing)
        raise NotFound(f"no {config.frequency} bars for {names}", violations=missing)


def _series(
    close: FloatArray,
    has_bar: BoolArray,
    timeline: TimeArray,
    codes: IntArray,
    times: TimeArray,
    closes: FloatArray,
    n: int,
) -> tuple[SymbolSeries, ...]:
    out = []
    for j in range(close.shape[1]):
        if j < n:
            present = has_bar[:, j]
            out.append(SymbolSeries(timeline[present], close[present, j]))
            continue
        mine = np.flatnonzero(codes == j)
        order = mine[np.argsort(times[mine], kind="stable")]
        own_times, unique = np.unique(times[order], return_index=True)
        out.append(SymbolSeries(own_times, closes[order][unique]))
    return tuple(out)


# -- signals, regimes, features -----------------------------------------------------------


def _with_values(config: StrategyConfig, market: Market, inputs: MarketInputs) -> Market:
    signals = regimes = None
    labels: tuple[str, ...] = ()
    features: dict[str, FloatArray] = {}
    if config.uses(RuleSource.SIGNAL):
        table = _required(inputs.signals, "signals", (SIGNAL_COLUMN,))
        signals = asof_table(table, (SIGNAL_COLUMN,), market)[SIGNAL_COLUMN]
    if config.uses(RuleSource.REGIME):
        table = _required(inputs.regimes, "regimes", (REGIME_COLUMN,))
        text = table.column(REGIME_COLUMN).cast(pa.string())
        labels = tuple(sorted(str(v) for v in pc.unique(text).drop_null().to_pylist()))
        found = pc.index_in(text, value_set=pa.array(labels, pa.string()))
        coded = table.set_column(
            table.schema.get_field_index(REGIME_COLUMN),
            REGIME_COLUMN,
            pc.fill_null(found, -1).cast(pa.float64()),
        )
        as_codes = asof_table(coded, (REGIME_COLUMN,), market)[REGIME_COLUMN]
        regimes = np.where(np.isnan(as_codes), -1, as_codes).astype(np.int64)
    names = tuple(
        dict.fromkeys(r.field for _, r in config.all_rules() if r.source is RuleSource.FEATURE)
    )
    if names:
        table = _required(inputs.features, "features", ())
        for path, rule in config.all_rules():
            if rule.source is RuleSource.FEATURE and rule.field not in table.column_names:
                raise InvalidArgument.for_field(
                    f"{path}.field",
                    f"feature view {config.feature_view} has no feature {rule.field!r}",
                )
        features = asof_table(table, names, market)
    return replace(
        market, signals=signals, regimes=regimes, regime_labels=labels, features=features
    )


def _required(table: pa.Table | None, what: str, columns: tuple[str, ...]) -> pa.Table:
    if table is None:
        raise InvalidArgument.for_field(what, "the strategy reads them but none were given")
    for name in ("symbol", "time", *columns):
        if name not in table.column_names:
            raise InvalidArgument.for_field(f"{what}.{name}", "required column is missing")
    return table


def asof_table(table: pa.Table, names: Sequence[str], market: Market) -> dict[str, FloatArray]:
    """Columns `names` of a (symbol, time, ...) table as of every row: name -> rows x symbols."""
    t, m = market.rows, len(market.symbols)
    out = {name: np.full((t, m), np.nan) for name in names}
    codes = _codes(table.column("symbol").cast(pa.string()), market.symbols)
    times = time_micros(table.column("time"))
    keep = codes >= 0
    order = np.flatnonzero(keep)
    order = order[np.lexsort((times[order], codes[order]))]
    codes, times = codes[order], times[order]
    bounds = np.searchsorted(codes, np.arange(m + 1))
    values = {}
    for name in names:
        try:
            column = table.column(name).cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidArgument.for_field(name, f"values must be numbers: {exc}") from None
        values[name] = column.to_numpy(zero_copy_only=False)[order]
    for j in range(m):
        lo, hi = bounds[j], bounds[j + 1]
        if lo == hi:
            continue
        index = np.searchsorted(times[lo:hi], market.times, side="right") - 1
        ok = index >= 0
        for name in names:
            out[name][ok, j] = values[name][lo:hi][index[ok]]
    return out


def time_micros(column: pa.ChunkedArray) -> TimeArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            column = pc.assume_timezone(column, "UTC")
        micros: TimeArray = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
        return micros
    if pa.types.is_date(kind):
        days: TimeArray = column.cast(pa.date32()).cast(pa.int32()).to_numpy().astype(np.int64)
        return days * 86_400_000_000
    raise InvalidArgument.for_field("time", f"must be a timestamp or date column, not {kind}")
