"""Integrity rules on the batch as given: schema and values, OHLC consistency, duplicates.

These need no history. Rows they find unusable are still placed in the panel where their symbol
and time are known (so the calendar and run-length rules see them), with their bad values blanked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import PRICE_COLUMNS
from services.quality.domain.findings import Check, Severity, band_score
from services.quality.domain.sink import FindingSink, format_day

_OHLC_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Integrity:
    """Per batch row: placed in the panel, prices usable, OHLC consistent."""

    keep: np.ndarray
    price_ok: np.ndarray
    range_ok: np.ndarray


def _floats(batch: pa.Table, name: str) -> np.ndarray:
    return np.asarray(
        batch.column(name).cast(pa.float64()).fill_null(np.nan).to_numpy(), dtype=np.float64
    )


def check_integrity(
    batch: pa.Table, sink: FindingSink, now_us: int, max_future_us: int
) -> Integrity:
    """Schema, value, OHLC and duplicate findings; the rows later rules may use."""
    n = batch.num_rows
    critical = band_score(Severity.CRITICAL, 0.5)
    symbol = batch.column("symbol")
    no_symbol = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(symbol), 0), True))
    for row in np.flatnonzero(no_symbol):
        sink.add(row, Check.SCHEMA, Severity.CRITICAL, critical, "symbol is missing or empty")
    no_time = np.asarray(batch.column("time").is_null())
    for row in np.flatnonzero(no_time):
        sink.add(row, Check.SCHEMA, Severity.CRITICAL, critical, "time is missing")
    times = np.asarray(
        pc.fill_null(batch.column("time").cast(pa.int64()), 0).to_numpy(), dtype=np.int64
    )
    future = ~no_time & (times > now_us + max_future_us)
    for row in np.flatnonzero(future):
        sink.add(
            row,
            Check.SCHEMA,
            Severity.CRITICAL,
            critical,
            f"time {format_day(int(times[row]))} is in the future",
        )
    price_ok = np.ones(n, dtype=bool)
    prices = {}
    for name in PRICE_COLUMNS:
        values = _floats(batch, name)
        prices[name] = values
        for row in np.flatnonzero(np.isnan(values)):
            sink.add(row, Check.SCHEMA, Severity.CRITICAL, critical, f"{name} is missing or NaN")
        for row in np.flatnonzero(np.isinf(values)):
            sink.add(row, Check.SCHEMA, Severity.CRITICAL, critical, f"{name} is infinite")
        with np.errstate(invalid="ignore"):
            non_positive = np.isfinite(values) & (values <= 0)
        for row in np.flatnonzero(non_positive):
            sink.add(
                row,
                Check.SCHEMA,
                Severity.CRITICAL,
                critical,
                f"{name} is {values[row]:g}; prices must be > 0",
            )
        price_ok &= np.isfinite(values) & ~non_positive
    volume = _floats(batch, "volume")
    with np.errstate(invalid="ignore"):
        bad_volume = np.isinf(volume) | (volume < 0)
    for row in np.flatnonzero(bad_volume):
        sink.add(
            row,
            Check.SCHEMA,
            Severity.CRITICAL,
            critical,
            f"volume is {volume[row]:g}; it must be a finite number >= 0",
        )
    for row in np.flatnonzero(np.isnan(volume)):
        sink.add(
            row,
            Check.ZERO_VOLUME,
            Severity.HIGH,
            band_score(Severity.HIGH, 0.5),
            "volume is missing",
        )
    adj = batch.column("adj_close")
    adj_values = _floats(batch, "adj_close")
    with np.errstate(invalid="ignore"):
        bad_adj = np.asarray(adj.is_valid()) & ~(np.isfinite(adj_values) & (adj_values > 0))
    for row in np.flatnonzero(bad_adj):
        sink.add(
            row,
            Check.SCHEMA,
            Severity.MEDIUM,
            band_score(Severity.MEDIUM, 0.5),
            f"adj_close is {adj_values[row]:g}; it must be a finite number > 0 when given",
        )
    range_ok = _check_ohlc(prices, price_ok, sink)
    keep = ~no_symbol & ~no_time
    keep &= _check_duplicates(batch, keep, times, prices, volume, sink)
    return Integrity(keep=keep, price_ok=price_ok, range_ok=range_ok)


def _check_ohlc(
    prices: dict[str, np.ndarray], price_ok: np.ndarray, sink: FindingSink
) -> np.ndarray:
    o, h, low, c = (prices[name] for name in PRICE_COLUMNS)
    slack = _OHLC_TOLERANCE * np.where(np.isfinite(h), np.abs(h), 0.0)
    critical = band_score(Severity.CRITICAL, 0.5)
    with np.errstate(invalid="ignore"):
        inverted = price_ok & (h < low - slack)
        open_out = price_ok & ((o < low - slack) | (o > h + slack))
        close_out = price_ok & ((c < low - slack) | (c > h + slack))
    for row in np.flatnonzero(inverted):
        sink.add(
            row,
            Check.OHLC,
            Severity.CRITICAL,
            critical,
            f"high {h[row]:g} is below low {low[row]:g}",
        )
    for name, values, outside in (("open", o, open_out), ("close", c, close_out)):
        for row in np.flatnonzero(outside):
            sink.add(
                row,
                Check.OHLC,
                Severity.CRITICAL,
                critical,
                f"{name} {values[row]:g} lies outside [low {low[row]:g}, high {h[row]:g}]",
            )
    return ~(inverted | open_out | close_out)


def _check_duplicates(
    batch: pa.Table,
    usable: np.ndarray,
    times: np.ndarray,
    prices: dict[str, np.ndarray],
    volume: np.ndarray,
    sink: FindingSink,
) -> np.ndarray:
    """Flag every repeated (symbol, time); only the last copy stays in the panel."""
    keep = np.ones(batch.num_rows, dtype=bool)
    rows = np.flatnonzero(usable)
    if len(rows) < 2:
        return keep
    symbols = np.asarray(pc.fill_null(batch.column("symbol"), "").to_pylist(), dtype=object)
    keys = pd.DataFrame({"symbol": symbols[rows], "time": times[rows]})
    repeated = keys.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return keep
    inverse = keys.groupby(["symbol", "time"], sort=False).ngroup().to_numpy()
    values = np.column_stack([prices[name] for name in PRICE_COLUMNS] + [volume])
    for key in np.unique(inverse[repeated]):
        copies = rows[inverse == key]
        same = all(np.array_equal(values[copies[0]], values[r], equal_nan=True) for r in copies)
        severity = Severity.MEDIUM if same else Severity.CRITICAL
        listed = ", ".join(str(r) for r in copies)
        what = "identical copies" if same else "conflicting values"
        for row in copies:
            sink.add(
                row,
                Check.DUPLICATE,
                severity,
                band_score(severity, 0.5),
                f"{symbols[row]} {format_day(int(times[row]))} appears {len(copies)} times "
                f"in the batch (rows {listed}, {what}); the last copy is checked",
            )
        keep[copies[:-1]] = False
    return keep


def check_revisions(
    batch: pa.Table, keep: np.ndarray, history: pa.Table | None, sink: FindingSink
) -> None:
    """A batch bar that changes a stored bar is a revision: LOW under 1 %, MEDIUM above."""
    if history is None or history.num_rows == 0 or not keep.any():
        return
    rows = np.flatnonzero(keep)
    current = batch.select(["symbol", "time", *PRICE_COLUMNS, "volume"]).take(pa.array(rows))
    current = current.append_column("row", pa.array(rows, pa.int64()))
    stored = history.select(["symbol", "time", *PRICE_COLUMNS, "volume"])
    stored = stored.filter(pc.greater_equal(stored.column("time"), pc.min(current.column("time"))))
    if stored.num_rows == 0:
        return
    joined = current.join(stored, keys=["symbol", "time"], right_suffix="_stored")
    joined = joined.filter(pc.is_valid(joined.column("close_stored")))
    if joined.num_rows == 0:
        return
    worst = np.zeros(joined.num_rows)
    described: list[list[str]] = [[] for _ in range(joined.num_rows)]
    for name in (*PRICE_COLUMNS, "volume"):
        new = _floats(joined, name)
        old = _floats(joined, f"{name}_stored")
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.abs(new - old) / np.abs(old)
        change = np.where(new == old, 0.0, np.where(np.isfinite(change), change, 1.0))
        worst = np.maximum(worst, change)
        for i in np.flatnonzero(change > 0):
            described[i].append(f"{name} {old[i]:g} → {new[i]:g}")
    batch_rows = joined.column("row").to_numpy()
    for i in np.flatnonzero(worst > 0):
        severity = Severity.LOW if worst[i] < 0.01 else Severity.MEDIUM
        sink.add(
            int(batch_rows[i]),
            Check.DUPLICATE,
            severity,
            band_score(severity, min(worst[i] / 0.2, 1.0)),
            f"revises the stored bar ({', '.join(described[i])}; largest change {worst[i]:.1%})",
        )
