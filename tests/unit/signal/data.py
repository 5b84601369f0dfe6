"""Feature and label tables for the signal tests, built from bars the way the feature store will.

Features at t use bars up to t only (past log returns, volatility, range, volume z-score, distance
from the moving average); labels look forward: `fwd_ret_h` = log(close[t+h] / close[t]) and
`direction_h` = 1 when that is positive, null where the future is not in the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from services.marketdata.domain.csv_formats import parse_csv
from services.signal.domain.frames import HORIZONS, TIME_TYPE

FEATURES = ("ret_1", "ret_5", "ret_20", "vol_20", "range_hl", "gap", "volume_z", "sma_gap_20")


def load_bars(folder: Path) -> pa.Table:
    """Every CSV of a folder, as one bar table."""
    tables = [parse_csv(path).table for path in sorted(folder.glob("*.csv"))]
    return pa.concat_tables(tables)


def features_and_labels(bars: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(features, labels) for every bar, sorted by symbol then time."""
    bars = bars.sort_by([("symbol", "ascending"), ("time", "ascending")])
    frame = bars.select(["symbol", "open", "high", "low", "close", "volume"]).to_pandas()
    by = frame.groupby("symbol", sort=False)
    log_close = np.log(frame["close"])
    ret_1 = log_close - by["close"].shift(1).pipe(np.log)
    frame["ret_1"] = ret_1
    frame["ret_5"] = log_close - np.log(by["close"].shift(5))
    frame["ret_20"] = log_close - np.log(by["close"].shift(20))
    frame["vol_20"] = ret_1.groupby(frame["symbol"]).transform(lambda s: s.rolling(20).std())
    frame["range_hl"] = np.log(frame["high"] / frame["low"])
    frame["gap"] = np.log(frame["open"]) - np.log(by["close"].shift(1))
    log_volume = np.log(frame["volume"])
    grouped_volume = log_volume.groupby(frame["symbol"])
    mean = grouped_volume.transform(lambda s: s.rolling(20).mean())
    std = grouped_volume.transform(lambda s: s.rolling(20).std())
    frame["volume_z"] = (log_volume - mean) / std
    sma = by["close"].transform(lambda s: s.rolling(20).mean())
    frame["sma_gap_20"] = frame["close"] / sma - 1.0
    for h in HORIZONS:
        forward = np.log(by["close"].shift(-h)) - log_close
        frame[f"fwd_ret_{h}"] = forward
        frame[f"direction_{h}"] = np.where(forward.isna(), np.nan, (forward > 0).astype(float))
    keys = {
        "symbol": bars.column("symbol").cast(pa.string()),
        "time": bars.column("time").cast(TIME_TYPE),
    }
    features = pa.table({**keys, **{f: pa.array(frame[f], pa.float64()) for f in FEATURES}})
    label_names = [f"fwd_ret_{h}" for h in HORIZONS] + [f"direction_{h}" for h in HORIZONS]
    labels = pa.table(
        {**keys, **{n: pa.array(frame[n], pa.float64(), from_pandas=True) for n in label_names}}
    )
    return features, labels
