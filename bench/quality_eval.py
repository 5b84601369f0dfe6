"""Quality sentinel evaluation: injected anomalies in the real dow30 bars, and check speed.

1. Detection. Each anomaly kind (spikes, stale runs, missing sessions, unadjusted splits,
   volume bursts, OHLC corruption) is injected, seeded, into its own copy of the dow30 daily
   bars after a history period (the first `--history-sessions` sessions, never corrupted; the
   pooled Isolation Forest is fitted on it). The whole batch is checked (rules are causal, so
   this equals checking day by day). A detection is a target row at severity >= HIGH; see
   services/quality/domain/evaluation.py for the matching rule. Printed per kind: injected,
   recall, precision, false and echo rows, the AUC of the combined score; recall by size for
   spikes and volume bursts; every HIGH row of the unmodified data with its reasons.
2. Isolation Forest layouts: per symbol on raw features, per symbol and pooled on normalised
   features, each as a standalone detector (recall at 1 % of clean rows flagged, AUC), and with
   `--layouts` in the whole system (clean HIGH rows, precision and recall per kind).
3. `--prophet`: Prophet walk-forward study at random cut dates (fits right before, the next
   sessions checked with and without Prophet).
4. Speed: one day of a synthetic 500-symbol market checked in process with every model cached
   (pooled forest and Prophet close and volume forecasts per symbol, fitted first in the
   trainer's pool); and ten years of one symbol.

The last line is `RESULT quality_eval spike_recall=.. split_recall=.. ohlc_recall=..
min_precision=.. daily_batch_500_s=..`. Targets: recall >= 0.9 with precision >= 0.8 for
spikes, splits and OHLC corruption; the 500-symbol day in well under 1 s.

    python bench/quality_eval.py [--data ../shared/data] [--layouts] [--prophet] [--no-prophet-fit]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

if __package__ in (None, ""):  # run as `python bench/quality_eval.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, shared_data
from services.marketdata.domain.csv_formats import parse_csv
from services.marketdata.domain.synthetic import generate_market
from services.quality.domain.config import IsolationConfig, ModelConfig, ProphetConfig
from services.quality.domain.evaluation import Evaluation, evaluate, isolation_layouts
from services.quality.domain.injection import AnomalyKind
from services.quality.domain.models import ModelCache
from services.quality.domain.prophet_study import study_prophet
from services.quality.domain.sentinel import Sentinel, SentinelConfig
from services.quality.domain.training import ModelTrainer


def load(folder: Path, symbols: Sequence[str]) -> pa.Table:
    files = sorted((folder / "daily" / "dow30").glob("*.csv"))
    if symbols:
        files = [f for f in files if f.stem in set(symbols)]
    return pa.concat_tables([parse_csv(f).table for f in files])


def print_detection(evaluation: Evaluation) -> None:
    print(
        f"\n## Detection at severity >= HIGH ({len(evaluation.symbols)} symbols, "
        f"{evaluation.batch_rows:,} checked bars from {evaluation.history_end.date()}, "
        f"forest {evaluation.isolation_layout})\n"
    )
    print(
        "| kind | injected | detected | recall | precision | true rows | false rows "
        "| echo rows | score AUC |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in evaluation.scores:
        print(
            f"| {s.kind.value} | {s.injected} | {s.detected} | {s.recall:.3f} | {s.precision:.3f} "
            f"| {s.true_rows} | {s.false_rows} | {s.echo_rows} | {s.score_auc:.4f} |"
        )
    print("\nRecall by size:")
    for kind, edges, unit in (
        (AnomalyKind.SPIKE, [0.10, 0.15, 0.20, 0.30, 0.41], "move"),
        (AnomalyKind.VOLUME_BURST, [5.0, 10.0, 20.0, 40.0, 101.0], "x volume"),
    ):
        cells = ", ".join(
            f"{label} {unit}: {recall:.2f} (n={n})"
            for label, n, recall in evaluation.recall_by_size(kind, edges)
        )
        print(f"- {kind.value}: {cells}")
    print(f"\nHIGH or CRITICAL rows on the unmodified data: {len(evaluation.clean_flags)}")
    for flag in evaluation.clean_flags:
        print(
            f"- {flag.symbol} {flag.time.date()} {flag.severity.name}: {' | '.join(flag.reasons)}"
        )
    print(f"\nCheck time over the 7 runs: {evaluation.check_seconds:.1f} s")


def print_detectors(evaluation: Evaluation) -> None:
    print("\n## Isolation Forest layouts as standalone detectors (recall at 1% clean FPR / AUC)\n")
    layouts = list(dict.fromkeys(d.layout for d in evaluation.detectors))
    print("| kind | " + " | ".join(layouts) + " |")
    print("|---|" + "---|" * len(layouts))
    for kind in AnomalyKind:
        cells = []
        for layout in layouts:
            [d] = [x for x in evaluation.detectors if x.layout == layout and x.kind is kind]
            auc = "n/a" if d.auc != d.auc else f"{d.auc:.3f}"
            cells.append(f"{d.recall_at_1pct:.3f} / {auc}")
        print(f"| {kind.value} | " + " | ".join(cells) + " |")
    means = []
    for layout in layouts:
        aucs = [d.auc for d in evaluation.detectors if d.layout == layout and d.auc == d.auc]
        means.append(f"{sum(aucs) / len(aucs):.3f}")
    print("| mean AUC | " + " | ".join(means) + " |")


def print_layouts(bars: pa.Table, history_sessions: int, seed: int) -> None:
    print("\n## Layouts in the whole system (severity >= HIGH)\n")
    print("| layout | clean HIGH rows | spike R/P | split R/P | ohlc R/P | burst R/P | check s |")
    print("|---|---|---|---|---|---|---|")
    configs = dict(isolation_layouts()) | {"no forest": IsolationConfig(enabled=False)}
    for name, config in configs.items():
        run = evaluate(
            bars, history_sessions=history_sessions, seed=seed, isolation=config, compare=False
        )
        cells = []
        for kind in (
            AnomalyKind.SPIKE,
            AnomalyKind.UNADJUSTED_SPLIT,
            AnomalyKind.OHLC_CORRUPTION,
            AnomalyKind.VOLUME_BURST,
        ):
            [s] = [x for x in run.scores if x.kind is kind]
            cells.append(f"{s.recall:.3f}/{s.precision:.3f}")
        print(
            f"| {name} | {len(run.clean_flags)} | "
            + " | ".join(cells)
            + f" | {run.check_seconds:.1f} |"
        )


def print_prophet(bars: pa.Table, cuts: int, seed: int) -> None:
    study = study_prophet(bars, cuts=cuts, seed=seed, workers=os.cpu_count() or 2)
    print(
        f"\n## Prophet walk-forward study ({study.fits} fits in {study.fit_seconds:.0f} s; "
        f"cuts {', '.join(study.cuts)})\n"
    )
    print(
        f"- clean rows ({study.clean_rows}) at LOW / MEDIUM: close {study.clean_close_low:.2%}"
        f" / {study.clean_close_medium:.2%}, volume {study.clean_volume_low:.2%}"
        f" / {study.clean_volume_medium:.2%}"
    )
    print(
        f"- injected ({study.injected} each) at LOW or above: spikes (close) "
        f"{study.spike_low:.2%}, volume bursts {study.burst_low:.2%}"
    )
    for with_prophet in (False, True):
        label = "with Prophet" if with_prophet else "without Prophet"
        print(
            f"- system {label}: clean HIGH rows {study.clean_high[with_prophet]}, spike recall "
            f"{study.spike_recall[with_prophet]:.3f}, burst recall "
            f"{study.burst_recall[with_prophet]:.3f}"
        )


async def speed(prophet: bool, repeat: int) -> float:
    market = generate_market(n_symbols=500, n_days=300, seed=3).bars
    stamps = market.column("time").cast(pa.int64())
    last = pa.compute.max(stamps)
    history = market.filter(pa.compute.less(stamps, last))
    day = market.filter(pa.compute.equal(stamps, last))
    config = SentinelConfig(models=ModelConfig(prophet=ProphetConfig(enabled=prophet)))
    trainer = ModelTrainer(ModelCache(), config.models, config.rules)
    sentinel = Sentinel(config=config, trainer=trainer)
    began = time.perf_counter()
    fitted = await sentinel.fit_models(history)
    print(
        f"\n## Speed\n\nFitted {len(sentinel.models.infos())} models for "
        f"{len(fitted.fitted)} symbols in {time.perf_counter() - began:.1f} s "
        f"(trainer pool, {os.cpu_count()} CPUs)"
    )
    sentinel.check_batch(day, history)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        report = sentinel.check_batch(day, history)
        times.append(time.perf_counter() - began)
    print(
        f"- one day, 500 symbols: median {median(times) * 1000:.0f} ms over {repeat} "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); forest rows "
        f"{report.models.isolation_rows}, Prophet rows {report.models.prophet_rows}"
    )
    one = generate_market(n_symbols=1, n_days=2520, seed=4).bars
    history, batch = one.slice(0, 130), one.slice(130)
    began = time.perf_counter()
    long_report = sentinel.check_batch(batch, history)
    print(
        f"- ten years of one symbol ({long_report.rows:,} bars): "
        f"{time.perf_counter() - began:.2f} s"
    )
    await sentinel.aclose()
    return median(times)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--symbols", nargs="*", default=[], help="dow30 symbols (default all)")
    parser.add_argument("--history-sessions", type=int, default=250)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--layouts", action="store_true", help="compare forest layouts end to end")
    parser.add_argument("--prophet", action="store_true", help="run the Prophet walk-forward study")
    parser.add_argument("--cuts", type=int, default=6, help="cut dates of the Prophet study")
    parser.add_argument("--no-prophet-fit", action="store_true", help="speed test without Prophet")
    parser.add_argument("--repeat", type=int, default=7)
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    bars = load(shared_data(args.data), args.symbols)
    evaluation = evaluate(bars, history_sessions=args.history_sessions, seed=args.seed)
    print_detection(evaluation)
    print_detectors(evaluation)
    if args.layouts:
        print_layouts(bars, args.history_sessions, args.seed)
    if args.prophet:
        print_prophet(bars, args.cuts, args.seed)
    daily = await speed(not args.no_prophet_fit, args.repeat)
    recall = {s.kind: s.recall for s in evaluation.scores}
    targeted = (AnomalyKind.SPIKE, AnomalyKind.UNADJUSTED_SPLIT, AnomalyKind.OHLC_CORRUPTION)
    precision = min(s.precision for s in evaluation.scores if s.kind in targeted)
    print(
        f"RESULT quality_eval spike_recall={recall[AnomalyKind.SPIKE]:.3f} "
        f"split_recall={recall[AnomalyKind.UNADJUSTED_SPLIT]:.3f} "
        f"ohlc_recall={recall[AnomalyKind.OHLC_CORRUPTION]:.3f} min_precision={precision:.3f} "
        f"daily_batch_500_s={daily:.3f}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
