"""Backtest benchmark: the engine against backtrader on the same SMA crossover, in the same run,
and the engine alone on minute bars.

Paths:

- engine: `run_backtest_sync(config, bars)` from the Arrow bar table in memory: aligning the
  bars, the rules, sizing, the order loop, the books and every KPI.
- backtrader: `backtest.peers.backtrader_sma.run_backtrader_sma` from the same table: pandas
  feeds, Cerebro (stdstats off, which favours it), SMA(10)/SMA(30) per symbol, the same orders.

Strategy: SMA(10) x SMA(30) on the 29 Dow stocks of the shared data (2008-11 to 2018-11, 73,022
daily bars), long on the up-cross, out on the down-cross, 2.5 % of equity per position in whole
shares (small enough that backtrader never refuses an order for cash), next-open fills,
commission 10 bps + 0.005 per share, slippage 5 bps. The two equity curves must agree to 1e-6
on every bar, or the benchmark fails.

Minute bars: the SPY minute files (January and March 2011, 31,757 bars), SMA(20) x SMA(60)
long/short at 100 % of equity, next-open fills, commission 1 bp + 0.005 per share, slippage
1 bp. Also shown: a volatility-targeted book resized on every bar (drift tolerance 0), the
loop's worst case.

Time: in this process, one warm-up then `--repeat` rounds, paths interleaved (the engine runs
`--inner` times per round); medians. The last line is
`RESULT backtest vs_backtrader=<backtrader time / engine time> minute_s=<SPY minute run, s>`.
Targets: >= 100 and < 1 s.

    python bench/backtest.py [--data ../shared/data] [--repeat 3] [--inner 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow as pa

if __package__ in (None, ""):  # run as `python bench/backtest.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import (
    BacktestResult,
    Costs,
    Frequency,
    Operator,
    PriceField,
    Rebalance,
    Rule,
    RuleGroup,
    Rules,
    Sizing,
    SizingMethod,
    StrategyConfig,
    run_backtest_sync,
    sma_crossover,
)
from backtest.peers.backtrader_sma import PeerRun, run_backtrader_sma
from bench._common import median, peak_rss_mib, shared_data, stopwatch, table
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv

DAILY = Path("daily") / "dow30"
MINUTE_FILES = ("nt-spy-minute-2011.csv", "nt-spy-minute-2011-03.csv")
FAST, SLOW, WEIGHT = 10, 30, 0.025
DAILY_COSTS = Costs(commission_bps=10, commission_per_share=0.005, slippage_bps=5)
MINUTE_COSTS = Costs(commission_bps=1, commission_per_share=0.005, slippage_bps=1)
TARGET_RATIO, TARGET_MINUTE_S = 100.0, 1.0
TOLERANCE = 1e-6


def dow_bars(data: Path) -> pa.Table:
    folder = data / DAILY
    files = find_csv_files([folder]) if folder.is_dir() else []
    if not files:
        sys.exit(f"error: no CSV files in {folder}")
    return pa.concat_tables([parse_csv(path).table for path in files])


def spy_minute_bars(data: Path) -> pa.Table:
    paths = [data / "intraday" / name for name in MINUTE_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"error: missing {', '.join(missing)}")
    return pa.concat_tables([parse_csv(path, symbol="SPY").table for path in paths])


def minute_configs() -> dict[str, StrategyConfig]:
    crossover = sma_crossover(
        ["SPY"],
        20,
        60,
        weight=1.0,
        allow_short=True,
        costs=MINUTE_COSTS,
        frequency=Frequency.MINUTE,
    )
    volatility = StrategyConfig(
        universe=("SPY",),
        rules=Rules(
            long_entry=RuleGroup.of(Rule.price(PriceField.RETURN, Operator.GT, 0.0, window=30))
        ),
        frequency=Frequency.MINUTE,
        sizing=Sizing(SizingMethod.VOLATILITY_TARGET, target_volatility=0.2, volatility_window=60),
        rebalance=Rebalance(drift_tolerance=0.0),
        costs=MINUTE_COSTS,
    )
    return {"SMA(20) x SMA(60), long/short": crossover, "vol target, resized every bar": volatility}


def timed(run: Callable[[], object], times: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(times):
        with stopwatch() as elapsed:
            result = run()
        samples.append(elapsed())
    return samples, result


def compare_daily(bars: pa.Table, repeat: int, inner: int) -> float:
    symbols = sorted(set(bars.column("symbol").to_pylist()))
    config = sma_crossover(symbols, FAST, SLOW, weight=WEIGHT, costs=DAILY_COSTS)

    def ours() -> BacktestResult:
        return run_backtest_sync(config, bars)

    def peer() -> PeerRun:
        return run_backtrader_sma(
            bars, symbols, fast=FAST, slow=SLOW, weight=WEIGHT, costs=DAILY_COSTS
        )

    engine_s: list[float] = []
    peer_s: list[float] = []
    result: object = None
    reference: object = None
    for round_ in range(1 + repeat):
        samples, result = timed(ours, inner)
        peer_samples, reference = timed(peer, 1)
        if round_ > 0:
            engine_s += samples
            peer_s += peer_samples
    assert isinstance(result, BacktestResult) and isinstance(reference, PeerRun)
    relative = np.abs(result.equity.equity / reference.equity - 1)
    if not np.array_equal(result.equity.times, reference.times) or relative.max() > TOLERANCE:
        sys.exit(f"error: equity curves differ by {relative.max():.2e} (bar {relative.argmax()})")
    ours_s, theirs_s = median(engine_s), median(peer_s)
    rows = bars.num_rows
    print(f"\nDow {len(symbols)} stocks, daily 2008-2018: {rows:,} bars, SMA({FAST}) x SMA({SLOW})")
    print(
        table(
            ["path", "time s", "bars/s", "fills"],
            [
                ["engine", f"{ours_s:.4f}", f"{rows / ours_s:,.0f}", f"{len(result.trades):,}"],
                [
                    "backtrader",
                    f"{theirs_s:.3f}",
                    f"{rows / theirs_s:,.0f}",
                    f"{reference.orders:,}",
                ],
            ],
        )
    )
    print(
        f"equity curves agree on all {relative.size:,} bars: max relative difference "
        f"{relative.max():.1e}; final equity {result.kpis.final_equity:,.2f}, Sharpe "
        f"{result.kpis.sharpe:.3f}"
    )
    ratio = theirs_s / ours_s
    print(f"backtrader time / engine time: {ratio:.1f}")
    return ratio


def time_minute(bars: pa.Table, repeat: int) -> float:
    rows = []
    first = 0.0
    for name, config in minute_configs().items():
        timed(lambda config=config: run_backtest_sync(config, bars), 1)  # warm-up
        samples, result = timed(lambda config=config: run_backtest_sync(config, bars), repeat)
        assert isinstance(result, BacktestResult)
        seconds = median(samples)
        first = first or seconds
        rows.append(
            [name, f"{seconds:.3f}", f"{bars.num_rows / seconds:,.0f}", f"{len(result.trades):,}"]
        )
    print(f"\nSPY minute bars, January and March 2011: {bars.num_rows:,} bars")
    print(table(["strategy", "time s", "bars/s", "fills"], rows))
    return first


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SMA-crossover backtest: the engine against backtrader, and minute bars."
    )
    parser.add_argument("--data", type=Path, help="shared data folder (default ../shared/data)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--inner", type=int, default=10, help="engine runs per round (10)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.inner < 1:
        parser.error("--repeat and --inner must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = shared_data(args.data)
    dow, minute = dow_bars(data), spy_minute_bars(data)
    print("backtest benchmark: SMA crossover, engine against backtrader; SPY minute bars")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}, "
        f"backtrader {version('backtrader')}; {_cpus()} CPUs"
    )
    print(
        f"time: median of {args.repeat} rounds after one warm-up, paths interleaved, the engine "
        f"{args.inner} times per round"
    )
    ratio = compare_daily(dow, args.repeat, args.inner)
    minute_s = time_minute(minute, max(args.repeat, 5))
    print(f"\npeak RSS of this process (backtrader included): {peak_rss_mib():.0f} MiB")
    met = ratio >= TARGET_RATIO and minute_s < TARGET_MINUTE_S
    print(
        f"targets: >= {TARGET_RATIO:.0f}x backtrader, minute run < {TARGET_MINUTE_S:.0f} s "
        f"({'met' if met else 'NOT met'})"
    )
    print(f"RESULT backtest vs_backtrader={ratio:.3f} minute_s={minute_s:.3f}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
