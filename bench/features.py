"""Feature benchmark: the default feature view, materialized by the feature store, against the
same indicators computed with the `ta` package (pandas based), in the same run.

Paths:

- feature store: `FeatureStore.materialize(DEFAULT_VIEW)` over a DuckDB file holding the bars:
  reads the bars from the bar store, runs TA-Lib per symbol, DuckDB window and rank queries, and
  writes the immutable value table and its registry row.
- ta (pandas): the same bars read from the same bar store into a pandas DataFrame, then per
  symbol the same 45 features with `ta` indicator classes where `ta` has them (SMA, EMA, RSI,
  MACD, Bollinger, ATR, ADX/DI, CCI, stochastic, Williams %R, ROC, OBV, MFI, Chaikin money flow,
  Aroon, TRIX, Donchian, Keltner) and pandas for the rest (log returns, rolling deviations,
  volume z-score, candle shapes, gap), then ranks per date with a pandas groupby. It stores
  nothing, which favours it.

Universes: the 29 Dow stocks of the shared data (73,022 daily bars), then a synthetic market
(`generate_market`, default 500 symbols x 2,520 sessions = 1,260,000 bars).

Time: in this process, one warm-up then `--repeat` runs of each path, interleaved (ours, ta,
ours, ta, ...), medians; every run gets a fresh copy of the bar database, and copying and
opening it stay untimed (a server has it open); reading the bars is timed. Memory: one more run
of each path in a fresh child process (after a warm-up on a 3-symbol market), reporting its peak
resident set size (the whole process, so it counts DuckDB's, TA-Lib's and Arrow's native memory,
which tracemalloc cannot see), "peak +" over the RSS just before the run, and that cold run's
time. The peak is the kernel's VmHWM of the child (/proc/self/status), not getrusage's
ru_maxrss: Linux carries ru_maxrss across exec, so a child of this large process would report at
least the parent's peak; ru_maxrss is the fallback where /proc is missing.

On the Dow set the two outputs are compared feature by feature: the 25 that both define the same
way must agree to 1e-9. The others differ by convention, not by mistake: `ta` seeds its EMAs and
Wilder averages differently from TA-Lib (EMA ratios, RSI, MACD, NATR, ADX/DI, TRIX, Keltner),
counts an unchanged close as up volume (OBV), keeps a different dead zone in MFI and breaks
Aroon ties the other way; the return ranks can order two returns that tie up to the logarithm's
last bit differently.

The last line is `RESULT features vs_pandas=<ratio>`: ta's median time over the feature store's
on the Dow set. Target: >= 5.

    python bench/features.py [--data ../shared/data] [--repeat 5] [--large-repeat 1] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

if __package__ in (None, ""):  # run as `python bench/features.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    median,
    peak_rss_mib,
    process_peak_rss_mib,
    rate,
    result_line,
    shared_data,
    stopwatch,
    table,
)
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.marketdata.domain.features import DEFAULT_VIEW, FeatureStore
from services.marketdata.domain.store import BarStore, open_database
from services.marketdata.domain.synthetic import generate_market

DATASET = Path("daily") / "dow30"
TARGET = 5.0
OURS, TA = "feature store", "ta (pandas)"
#: Features both define identically (checked on the Dow set to 1e-9).
SAME_DEFINITION = (
    "log_ret_1", "log_ret_5", "log_ret_20", "realized_vol_5", "realized_vol_20",
    "realized_vol_60", "sma_ratio_10", "sma_ratio_20", "sma_ratio_50", "bb_pctb_20",
    "bb_width_20", "cci_20", "stoch_k", "stoch_d", "willr_14", "roc_10", "mom_10", "cmf_20",
    "donchian_pos_20", "volume_z_20", "candle_body", "candle_upper", "candle_lower", "gap",
    "cs_rank_vol_20",
)  # fmt: skip


# -- the baseline: the same features with `ta` and pandas ----------------------------------


def ta_symbol_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The default view's features of one symbol's bars (sorted by time) with `ta` + pandas."""
    import ta  # imported here: only the baseline child needs it

    o, h, low, c, v = (bars[k] for k in ("open", "high", "low", "close", "volume"))
    out: dict[str, pd.Series] = {}
    log_close = np.log(c)
    r1 = log_close.diff()
    for n in (1, 5, 20):
        out[f"log_ret_{n}"] = log_close.diff(n)
    for n in (5, 20, 60):
        out[f"realized_vol_{n}"] = r1.rolling(n).std(ddof=0)
    for n in (10, 20, 50):
        out[f"sma_ratio_{n}"] = c / ta.trend.SMAIndicator(c, n).sma_indicator() - 1
    for n in (12, 26, 50):
        out[f"ema_ratio_{n}"] = c / ta.trend.EMAIndicator(c, n).ema_indicator() - 1
    out["rsi_14"] = ta.momentum.RSIIndicator(c, 14).rsi()
    macd = ta.trend.MACD(c, window_slow=26, window_fast=12, window_sign=9)
    out["macd_line"] = macd.macd() / c
    out["macd_signal"] = macd.macd_signal() / c
    out["macd_hist"] = macd.macd_diff() / c
    bands = ta.volatility.BollingerBands(c, 20, 2)
    out["bb_pctb_20"] = bands.bollinger_pband()
    out["bb_width_20"] = bands.bollinger_wband() / 100
    atr = ta.volatility.AverageTrueRange(h, low, c, 14).average_true_range()
    prev_close = c.shift(1)
    true_range = pd.concat([h - low, (h - prev_close).abs(), (low - prev_close).abs()], axis=1)
    out["natr_14"] = atr / c * 100
    out["atr_ratio_14"] = true_range.max(axis=1) / atr
    adx = ta.trend.ADXIndicator(h, low, c, 14)
    out["adx_14"], out["plus_di_14"], out["minus_di_14"] = adx.adx(), adx.adx_pos(), adx.adx_neg()
    out["cci_20"] = ta.trend.CCIIndicator(h, low, c, 20).cci()
    slow_k = ta.momentum.StochasticOscillator(h, low, c, 14, 3).stoch_signal()
    out["stoch_k"], out["stoch_d"] = slow_k, slow_k.rolling(3).mean()
    out["willr_14"] = ta.momentum.WilliamsRIndicator(h, low, c, 14).williams_r()
    out["roc_10"] = ta.momentum.ROCIndicator(c, 10).roc()
    out["mom_10"] = c.diff(10) / c
    obv = ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume()
    out["obv_flow_20"] = obv.diff(20) / v.rolling(20).sum()
    out["mfi_14"] = ta.volume.MFIIndicator(h, low, c, v, 14).money_flow_index()
    out["cmf_20"] = ta.volume.ChaikinMoneyFlowIndicator(h, low, c, v, 20).chaikin_money_flow()
    aroon = ta.trend.AroonIndicator(h, low, 14)
    out["aroon_up_14"], out["aroon_down_14"] = aroon.aroon_up(), aroon.aroon_down()
    out["trix_15"] = ta.trend.TRIXIndicator(c, 15).trix()
    out["donchian_pos_20"] = ta.volatility.DonchianChannel(h, low, c, 20).donchian_channel_pband()
    keltner = ta.volatility.KeltnerChannel(
        h, low, c, window=20, window_atr=10, original_version=False, multiplier=2
    )
    out["keltner_pos_20"] = keltner.keltner_channel_pband()
    out["volume_z_20"] = (v - v.rolling(20).mean()) / v.rolling(20).std(ddof=0)
    bar_range = (h - low).where(h > low)
    out["candle_body"] = ((c - o) / bar_range).fillna(0.0)
    out["candle_upper"] = ((h - np.maximum(o, c)) / bar_range).fillna(0.0)
    out["candle_lower"] = ((np.minimum(o, c) - low) / bar_range).fillna(0.0)
    out["gap"] = pd.Series(np.log(o / prev_close), index=o.index)
    return pd.DataFrame({"symbol": bars["symbol"], "time": bars["time"], **out})


def ta_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Every symbol's features, then the cross-sectional ranks per date."""
    frames = [ta_symbol_features(group) for _, group in bars.groupby("symbol", sort=True)]
    features = pd.concat(frames, ignore_index=True)
    for name, source in (
        ("cs_rank_ret_1", "log_ret_1"),
        ("cs_rank_ret_20", "log_ret_20"),
        ("cs_rank_vol_20", "realized_vol_20"),
    ):
        by_time = features.groupby("time")[source]
        features[name] = (by_time.rank(method="min") - 1) / (by_time.transform("count") - 1)
    return features[["symbol", "time", *DEFAULT_VIEW.feature_names]]


# -- one path over a bar database ---------------------------------------------------------


class Subject:
    """One path over a private copy of a bar database: `run()` is the timed part.

    Copying and opening the database (and the stores' start-up scan) stay outside: a serving
    process has it open.
    """

    def __init__(self, path: str, database: Path, folder: Path) -> None:
        self.path = path
        copy = folder / f"run-{uuid.uuid4().hex}.duckdb"
        shutil.copy(database, copy)
        self.db = open_database(copy)
        self.bars = BarStore(self.db)
        self.features = FeatureStore(self.db, self.bars)

    def run(self) -> pa.Table | None:
        """Ours: materialize (nothing back: the values are stored); ta: read bars, compute."""
        if self.path == OURS:
            self.features.materialize(DEFAULT_VIEW, Frequency.DAILY)
            return None
        bars = self.bars.read([], Frequency.DAILY, None, None, None)
        return pa.Table.from_pandas(ta_features(bars.to_pandas()), preserve_index=False)

    def values(self, result: pa.Table | None) -> pa.Table:
        return self.features.read(DEFAULT_VIEW.name) if result is None else result

    def close(self) -> None:
        self.db.close()


def time_paths(
    database: Path, folder: Path, repeat: int
) -> tuple[dict[str, list[float]], dict[str, pa.Table]]:
    """1 warm-up + `repeat` runs of each path in this process, interleaved (ours, ta, ours, ...);
    the timings of the repeats and each path's values from its last run."""
    seconds: dict[str, list[float]] = {OURS: [], TA: []}
    values: dict[str, pa.Table] = {}
    for round_ in range(1 + repeat):
        for path in (OURS, TA):
            subject = Subject(path, database, folder)
            try:
                with stopwatch() as elapsed:
                    result = subject.run()
                if round_ > 0:
                    seconds[path].append(elapsed())
                if round_ == repeat:
                    values[path] = subject.values(result)
            finally:
                subject.close()
    return seconds, values


# -- peak memory: one cold run per path in a child process ----------------------------------


def current_rss_mib() -> float:
    """This process's resident set size now (Linux /proc; else the peak so far)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def own_peak_rss_mib() -> float:
    """This process's peak resident set size: the kernel's VmHWM where /proc has it, else
    getrusage's ru_maxrss. On Linux ru_maxrss survives exec: a child started by a large parent
    reports at least the parent's peak, so it is only the fallback."""
    return process_peak_rss_mib(os.getpid()) or peak_rss_mib()


@dataclass(frozen=True)
class Memory:
    peak_rss_mib: float
    rss_before_mib: float
    cold_seconds: float


def child(path: str, database: Path, warmup: Path) -> None:
    """One run of `path` in this fresh process (after a tiny warm-up); print a JSON report."""
    warnings.simplefilter("ignore")  # ta divides by zero in flat windows
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as name:
        folder = Path(name)
        warm = Subject(path, warmup, folder)
        warm.run()
        warm.close()
        subject = Subject(path, database, folder)
        before = current_rss_mib()
        with stopwatch() as elapsed:
            subject.run()
        report = Memory(own_peak_rss_mib(), before, elapsed())
        subject.close()
    print(json.dumps(report.__dict__))


def measure_memory(path: str, database: Path, warmup: Path) -> Memory:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", path]
    command += ["--db", str(database), "--warmup-db", str(warmup)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"error: {path} run failed:\n{done.stderr[-3000:]}")
    return Memory(**json.loads(done.stdout.strip().splitlines()[-1]))


# -- the parent: universes, repetitions, reporting ------------------------------------------


def bar_database(bars: pa.Table, path: Path) -> Path:
    db = open_database(path)
    try:
        BarStore(db).commit(bars, Frequency.DAILY, "bench", uuid.uuid4().hex, "pass")
    finally:
        db.close()
    return path


def dow30_bars(data: Path | None) -> pa.Table:
    folder = shared_data(data) / DATASET
    files = find_csv_files([folder]) if folder.is_dir() else []
    if not files:
        sys.exit(f"error: no CSV files in {folder}")
    return pa.concat_tables([parse_csv(path).table for path in files])


def check_agreement(ours: pa.Table, baseline: pa.Table) -> None:
    """Exit unless both have the same rows and agree on the features defined the same way."""
    if ours.num_rows != baseline.num_rows:
        sys.exit(f"error: {ours.num_rows:,} rows against ta's {baseline.num_rows:,}")
    for feature in SAME_DEFINITION:
        a = ours.column(feature).to_numpy(zero_copy_only=False).astype(np.float64)
        b = baseline.column(feature).to_numpy(zero_copy_only=False).astype(np.float64)
        b[~np.isfinite(b)] = np.nan
        both = ~np.isnan(a) & ~np.isnan(b)
        if both.sum() < 0.9 * len(a) or not np.allclose(a[both], b[both], rtol=1e-9, atol=1e-9):
            sys.exit(f"error: {feature} differs between the feature store and ta")
    print(
        f"values: the {len(SAME_DEFINITION)} features both define alike agree to 1e-9; the "
        f"other {len(DEFAULT_VIEW.feature_names) - len(SAME_DEFINITION)} differ by ta's "
        "conventions (TA-Lib parity: tests/unit/marketdata/features)"
    )


def measure_universe(
    title: str, bars: pa.Table, folder: Path, warmup: Path, repeat: int, compare: bool
) -> float:
    """Time both paths, take their memory, print the table; returns ta time / our time."""
    database = bar_database(bars, folder / f"{uuid.uuid4().hex}.duckdb")
    seconds, values = time_paths(database, folder, repeat)
    if compare:
        check_agreement(values[OURS], values[TA])
    memory = {path: measure_memory(path, database, warmup) for path in (OURS, TA)}
    rows = bars.num_rows
    times = {path: median(samples) for path, samples in seconds.items()}
    print(f"\n{title}: {rows:,} rows x {len(DEFAULT_VIEW.feature_names)} features")
    print(
        table(
            ["path", "time s", "rows/s", "cold s", "peak RSS MiB", "peak + MiB"],
            [
                [
                    path,
                    f"{times[path]:.3f}",
                    rate(rows, times[path]),
                    f"{memory[path].cold_seconds:.3f}",
                    f"{memory[path].peak_rss_mib:.0f}",
                    f"{memory[path].peak_rss_mib - memory[path].rss_before_mib:.0f}",
                ]
                for path in (OURS, TA)
            ],
        )
    )
    ratio = times[TA] / times[OURS]
    print(f"ta time / feature store time: {ratio:.2f}")
    return ratio


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Default feature view: feature store against the `ta` package (pandas)."
    )
    parser.add_argument("--data", type=Path, help="shared data folder (default ../shared/data)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per path, Dow set (5)")
    parser.add_argument(
        "--large-repeat", type=int, default=1, help="timed runs per path, synthetic (1)"
    )
    parser.add_argument("--symbols", type=int, default=500, help="synthetic symbols (500)")
    parser.add_argument("--days", type=int, default=2520, help="synthetic sessions (2,520)")
    parser.add_argument("--skip-large", action="store_true", help="only the Dow set")
    parser.add_argument("--child", choices=(OURS, TA), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warmup-db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.large_repeat < 1:
        parser.error("--repeat and --large-repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(args.child, args.db, args.warmup_db)
        return 0
    warnings.simplefilter("ignore")  # ta divides by zero in flat windows
    dow = dow30_bars(args.data)
    print(
        f"features benchmark: the default view ({len(DEFAULT_VIEW.feature_names)} features), "
        "feature store against ta (pandas)"
    )
    print(
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, TA-Lib "
        f"{version('TA-Lib')}, ta {version('ta')}, pandas {pd.__version__}, pyarrow "
        f"{pa.__version__}; {_cpus()} CPUs"
    )
    print(
        f"time: median of {args.repeat} (Dow) / {args.large_repeat} (synthetic) in-process runs "
        "after one warm-up, paths interleaved; cold: one run in a fresh process; peak RSS: "
        "VmHWM of that process, 'peak +' over its RSS before the run"
    )
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as name:
        folder = Path(name)
        warmup = bar_database(generate_market(3, 300, seed=5).bars, folder / "warmup.duckdb")
        ratio = measure_universe(
            "Dow 29 stocks, daily 2008-2018", dow, folder, warmup, args.repeat, compare=True
        )
        if not args.skip_large:
            market = generate_market(args.symbols, args.days, seed=1).bars
            title = f"synthetic {args.symbols} symbols x {args.days} sessions"
            measure_universe(title, market, folder, warmup, args.large_repeat, compare=False)
    print(f"\ntarget on the Dow set: >= {TARGET:.0f}x ({'met' if ratio >= TARGET else 'NOT met'})")
    print(result_line("features", "vs_pandas", ratio))
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
