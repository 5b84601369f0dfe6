"""Known anomalies injected into bars, for the evaluation.

`inject` corrupts a copy of the bars with one kind of anomaly at seeded random places after the
history period, and records for each injection its target rows (where a detection counts) and
its affected rows (whose values, or features derived from them, the injection changed):

- spike: one bar's prices x(1 ± 10–40 %, log-uniform); half the time the whole bar moves (a bad
  bar), half the time only the close (a bad close print, high/low stretched to hold it).
  Target: the bar. Affected: it and the next bar (whose return starts from it).
- stale_run: 2–6 bars replaced by the bar before them, either repeated exactly or flat at its
  close with zero volume. Target: the replaced bars. Affected: those and the next bar.
- missing_sessions: 1–3 consecutive bars deleted. Target and affected: the bar after the hole.
- unadjusted_split: from one bar on, prices / r and volume x r, r in 2, 3, 4, 3/2, 1/2, 1/3
  (2-for-1 … and reverse splits). Target: the first bar at the new scale. Affected: it and every
  later bar.
- volume_burst: one bar's volume x5–100 (log-uniform). Target and affected: the bar.
- ohlc_corruption: high and low swapped, or close or open pushed 0.5–5 % outside [low, high],
  or the four prices rotated (o, h, l, c <- h, l, c, o). Target: the bar. Affected: it and the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import BAR_SCHEMA, TIME_TYPE, normalize_bars
from services.quality.domain.sink import format_day


class AnomalyKind(StrEnum):
    SPIKE = "spike"
    STALE_RUN = "stale_run"
    MISSING_SESSIONS = "missing_sessions"
    UNADJUSTED_SPLIT = "unadjusted_split"
    VOLUME_BURST = "volume_burst"
    OHLC_CORRUPTION = "ohlc_corruption"


DEFAULT_COUNTS: dict[AnomalyKind, int] = {
    AnomalyKind.SPIKE: 8,
    AnomalyKind.STALE_RUN: 4,
    AnomalyKind.MISSING_SESSIONS: 4,
    AnomalyKind.UNADJUSTED_SPLIT: 2,
    AnomalyKind.VOLUME_BURST: 8,
    AnomalyKind.OHLC_CORRUPTION: 8,
}
_SPLIT_FACTORS = (2.0, 3.0, 4.0, 1.5, 0.5, 1 / 3)
_SPACING = 25


@dataclass(frozen=True)
class Injection:
    """One injected anomaly: `targets` and `affected` are bar times (epoch microseconds)."""

    kind: AnomalyKind
    symbol: str
    targets: tuple[int, ...]
    affected: tuple[int, ...]
    detail: str
    size: float = 0.0


@dataclass(frozen=True)
class Injected:
    bars: pa.Table
    injections: list[Injection]


@dataclass
class BarSeries:
    symbol: str
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    keep: np.ndarray


def split_series(bars: pa.Table) -> list[BarSeries]:
    table = normalize_bars(bars).sort_by([("symbol", "ascending"), ("time", "ascending")])
    symbols = np.asarray(table.column("symbol").to_pylist(), dtype=object)
    arrays = {
        name: np.asarray(table.column(name).to_numpy(), dtype=np.float64)
        for name in ("open", "high", "low", "close", "volume")
    }
    times = np.asarray(table.column("time").cast(pa.int64()).to_numpy(), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], symbols[1:] != symbols[:-1])))
    ends = np.append(starts[1:], len(symbols))
    return [
        BarSeries(
            symbol=str(symbols[lo]),
            time=times[lo:hi].copy(),
            open=arrays["open"][lo:hi].copy(),
            high=arrays["high"][lo:hi].copy(),
            low=arrays["low"][lo:hi].copy(),
            close=arrays["close"][lo:hi].copy(),
            volume=arrays["volume"][lo:hi].copy(),
            keep=np.ones(hi - lo, dtype=bool),
        )
        for lo, hi in zip(starts, ends, strict=True)
    ]


def join_series(series: Sequence[BarSeries]) -> pa.Table:
    parts = []
    for s in series:
        k = s.keep
        parts.append(
            pa.table(
                {
                    "symbol": pa.array([s.symbol] * int(k.sum()), pa.string()),
                    "time": pa.array(s.time[k], TIME_TYPE),
                    "open": s.open[k],
                    "high": s.high[k],
                    "low": s.low[k],
                    "close": s.close[k],
                    "volume": s.volume[k],
                    "adj_close": pa.nulls(int(k.sum()), pa.float64()),
                },
                schema=BAR_SCHEMA,
            )
        )
    return pa.concat_tables(parts)


def _positions(rng: np.random.Generator, first: int, last: int, count: int) -> list[int]:
    """Up to `count` positions in [first, last), at least _SPACING apart."""
    chosen: list[int] = []
    for p in rng.permutation(np.arange(first, last)):
        if all(abs(int(p) - c) >= _SPACING for c in chosen):
            chosen.append(int(p))
        if len(chosen) == count:
            break
    return sorted(chosen)


def inject(
    bars: pa.Table,
    kind: AnomalyKind,
    *,
    after: datetime,
    per_symbol: int,
    seed: int = 2024,
) -> Injected:
    """A copy of `bars` with `per_symbol` anomalies of `kind` in every symbol after `after`."""
    rng = np.random.default_rng([seed, list(AnomalyKind).index(kind)])
    series = split_series(bars)
    injections: list[Injection] = []
    after_us = int(after.timestamp() * 1_000_000)
    for s in series:
        first = int(np.searchsorted(s.time, after_us)) + 2
        for p in _positions(rng, first, len(s.time) - 10, per_symbol):
            injections.append(_INJECTORS[kind](s, p, rng))
    return Injected(join_series(series), injections)


def _spike(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    size = float(np.exp(rng.uniform(np.log(0.10), np.log(0.40))))
    factor = 1 + size if rng.random() < 0.5 else 1 / (1 + size)
    if rng.random() < 0.5:
        for values in (s.open, s.high, s.low, s.close):
            values[p] *= factor
        detail = f"whole bar x{factor:.3f}"
    else:
        s.close[p] *= factor
        s.high[p] = max(s.high[p], s.close[p])
        s.low[p] = min(s.low[p], s.close[p])
        detail = f"close x{factor:.3f}"
    return Injection(
        AnomalyKind.SPIKE,
        s.symbol,
        (int(s.time[p]),),
        (int(s.time[p]), int(s.time[p + 1])),
        detail,
        size,
    )


def _stale(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    length = int(rng.integers(2, 7))
    exact = rng.random() < 0.5
    for q in range(p, p + length):
        if exact:
            for values in (s.open, s.high, s.low, s.close, s.volume):
                values[q] = values[p - 1]
        else:
            for values in (s.open, s.high, s.low, s.close):
                values[q] = s.close[p - 1]
            s.volume[q] = 0.0
    targets = tuple(int(t) for t in s.time[p : p + length])
    detail = f"{length} bars {'repeating the previous bar' if exact else 'flat with zero volume'}"
    return Injection(
        AnomalyKind.STALE_RUN,
        s.symbol,
        targets,
        (*targets, int(s.time[p + length])),
        detail,
        float(length),
    )


def _missing(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    count = int(rng.integers(1, 4))
    s.keep[p : p + count] = False
    after = int(s.time[p + count])
    return Injection(
        AnomalyKind.MISSING_SESSIONS,
        s.symbol,
        (after,),
        (after,),
        f"{count} bar(s) from {format_day(int(s.time[p]))} deleted",
        float(count),
    )


def _split(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    ratio = float(rng.choice(_SPLIT_FACTORS))
    for values in (s.open, s.high, s.low, s.close):
        values[p:] /= ratio
    s.volume[p:] *= ratio
    return Injection(
        AnomalyKind.UNADJUSTED_SPLIT,
        s.symbol,
        (int(s.time[p]),),
        tuple(int(t) for t in s.time[p:]),
        f"prices / {ratio:g}, volume x {ratio:g} from here",
        ratio,
    )


def _burst(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    factor = float(np.exp(rng.uniform(np.log(5.0), np.log(100.0))))
    s.volume[p] *= factor
    return Injection(
        AnomalyKind.VOLUME_BURST,
        s.symbol,
        (int(s.time[p]),),
        (int(s.time[p]),),
        f"volume x{factor:.1f}",
        factor,
    )


def _ohlc(s: BarSeries, p: int, rng: np.random.Generator) -> Injection:
    variant = int(rng.integers(0, 4))
    o, h, low, c = s.open[p], s.high[p], s.low[p], s.close[p]
    push = float(rng.uniform(0.005, 0.05))
    if variant == 0 or h == low:
        s.high[p], s.low[p] = low * (1 - push) if h == low else low, h
        detail = "high and low swapped"
    elif variant == 1:
        s.close[p] = h * (1 + push) if rng.random() < 0.5 else low * (1 - push)
        detail = f"close pushed {push:.1%} outside the range"
    elif variant == 2:
        s.open[p] = h * (1 + push) if rng.random() < 0.5 else low * (1 - push)
        detail = f"open pushed {push:.1%} outside the range"
    else:
        s.open[p], s.high[p], s.low[p], s.close[p] = h, low, c, o
        detail = "prices rotated (o, h, l, c <- h, l, c, o)"
    return Injection(
        AnomalyKind.OHLC_CORRUPTION,
        s.symbol,
        (int(s.time[p]),),
        (int(s.time[p]), int(s.time[p + 1])),
        detail,
    )


_INJECTORS = {
    AnomalyKind.SPIKE: _spike,
    AnomalyKind.STALE_RUN: _stale,
    AnomalyKind.MISSING_SESSIONS: _missing,
    AnomalyKind.UNADJUSTED_SPLIT: _split,
    AnomalyKind.VOLUME_BURST: _burst,
    AnomalyKind.OHLC_CORRUPTION: _ohlc,
}
