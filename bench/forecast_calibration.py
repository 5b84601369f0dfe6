"""Forecast calibration: rolling-origin coverage of the KPI bands on the dow30 daily returns.

For every dow30 stock (daily closes, split-adjusted, not dividend-adjusted; simple returns),
each method forecasts at rolling origins from the returns before the origin only: the first
origin after `--min-history` returns (two years), then every `--step` sessions while the
origin plus the longest horizon stays inside the data. At each origin the bands of the
cumulative return over the next 20 and 60 sessions are compared with what happened. This is
the service's own code path (`Forecaster.evaluate_calibration`, the same defaults a request
with zeros gets: each method's default window, 1,000 paths, Politis–White block lengths).

Baseline, in the same run: iid normal returns with the mean and standard deviation of the last
504 returns (the textbook √h band), through the same evaluation.

Printed per method and horizon, pooled over every stock and origin: the coverage of the 50%,
80% and 90% bands (targets 0.50 / 0.80 / 0.90; the 80% band = [10, 90]), the mean width of the
80% band, the mean pinball loss over the 5, 10, 25, 50, 75, 90, 95 percentiles and the hit rates
of the 10th and 90th; the spread of the 80% coverage across stocks; then the pinball loss per
quantile. Target: the 80% band of the cumulative return covers 75–85% at horizons 20 and 60.

Consecutive origins 20 sessions apart overlap at horizon 60, and stocks move together, so the
effective sample is far smaller than the forecast count: read differences of a point or two as
noise.

The last line is `RESULT forecast coverage80_h20_<method>=.. coverage80_h60_<method>=.. ...`.

    python bench/forecast_calibration.py [--data ../shared/data] [--methods bootstrap,...]
        [--symbols KO MSFT] [--step 20] [--paths 1000] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as `python bench/forecast_calibration.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import shared_data, table
from services.forecast.domain.calibration import (
    CalibrationReport,
    CalibrationResult,
    evaluate_calibration,
    rolling_origins,
)
from services.forecast.domain.kpis import Kpi
from services.forecast.domain.limits import ForecastLimits
from services.forecast.domain.methods import Method, Simulation
from services.forecast.domain.requests import (
    DEFAULT_BANDS,
    CalibrationRequest,
    calibration_spec,
)
from services.forecast.domain.returns import ReturnSeries
from services.forecast.domain.service import Forecaster
from services.marketdata.domain.csv_formats import parse_csv

BASELINE = "normal (baseline)"
BASELINE_WINDOW = 504


@dataclass(frozen=True)
class Job:
    symbol: str
    path: Path
    method: str  # a Method value, or BASELINE
    horizons: tuple[int, ...]
    min_history: int
    step: int
    paths: int
    seed: int


@dataclass(frozen=True)
class Outcome:
    job: Job
    report: CalibrationReport
    seconds: float


def returns_of(path: Path) -> np.ndarray:
    close = np.asarray(parse_csv(path).table.column("close").to_numpy(), dtype=np.float64)
    return close[1:] / close[:-1] - 1.0


def normal_paths(
    method: Method,
    history: np.ndarray,
    paths: int,
    horizon: int,
    rng: np.random.Generator,
    block: float,
) -> Simulation:
    """The baseline: iid normal returns with the trailing window's mean and deviation."""
    recent = history[-BASELINE_WINDOW:]
    draws = rng.normal(recent.mean(), recent.std(ddof=1), (paths, horizon))
    return Simulation(np.maximum(draws, -0.99), "iid normal")


def run_job(job: Job) -> Outcome:
    returns = returns_of(job.path)
    request = CalibrationRequest(
        series=ReturnSeries(returns),
        horizons=job.horizons,
        methods=[Method.BOOTSTRAP if job.method == BASELINE else Method(job.method)],
        kpis=[Kpi.CUMULATIVE_RETURN],
        min_history=job.min_history,
        origin_step=job.step,
        paths=job.paths,
        seed=job.seed,
    )
    began = time.perf_counter()
    if job.method == BASELINE:
        spec = calibration_spec(request, ForecastLimits())
        origins = rolling_origins(len(returns), job.min_history, job.step, job.horizons[-1])
        report = evaluate_calibration(returns, spec, origins, simulator=normal_paths)
    else:
        report = asyncio.run(_evaluate(request))
    return Outcome(job, report, time.perf_counter() - began)


async def _evaluate(request: CalibrationRequest) -> CalibrationReport:
    forecaster = Forecaster(workers=1)
    try:
        return await forecaster.evaluate_calibration(request)
    finally:
        await forecaster.aclose()


def pooled(results: Sequence[CalibrationResult], attribute: str) -> float:
    weights = np.array([r.origins for r in results], dtype=np.float64)
    values = np.array([getattr(r, attribute) for r in results], dtype=np.float64)
    return float((weights * values).sum() / weights.sum())


def pooled_coverage(results: Sequence[CalibrationResult], index: int) -> float:
    weights = np.array([r.origins for r in results], dtype=np.float64)
    return float(sum(w * r.bands[index].coverage for w, r in zip(weights, results, strict=True))
                 / weights.sum())  # fmt: skip


def pooled_quantile(results: Sequence[CalibrationResult], index: int, field: str) -> float:
    weights = np.array([r.origins for r in results], dtype=np.float64)
    values = [getattr(r.quantiles[index], field) for r in results]
    return float(np.dot(weights, values) / weights.sum())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--symbols", nargs="*", default=[], help="dow30 symbols (default all)")
    parser.add_argument(
        "--methods",
        default="bootstrap,quantile_regression,prophet",
        help="comma-separated methods (bootstrap, quantile_regression, prophet)",
    )
    parser.add_argument("--horizons", default="20,60", help="comma-separated horizons")
    parser.add_argument("--min-history", type=int, default=504)
    parser.add_argument("--step", type=int, default=20, help="sessions between origins")
    parser.add_argument("--paths", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files = sorted((shared_data(args.data) / "daily" / "dow30").glob("*.csv"))
    if args.symbols:
        files = [f for f in files if f.stem in set(args.symbols)]
    methods = [Method.parse(m).value for m in args.methods.split(",") if m.strip()]
    horizons = tuple(int(h) for h in args.horizons.split(","))
    # Prophet first: its jobs are the longest, so the pool ends evenly.
    order = sorted([*methods, BASELINE], key=lambda m: m != Method.PROPHET.value)
    jobs = [
        Job(f.stem, f, m, horizons, args.min_history, args.step, args.paths, args.seed)
        for m in order
        for f in files
    ]
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(run_job, jobs))
    elapsed = time.perf_counter() - began
    labels = [*methods, BASELINE]
    origins = outcomes[0].report.origins
    print(
        f"\n## Forecast calibration: {len(files)} dow30 stocks, {len(origins)} origins each "
        f"(first after {args.min_history} returns, every {args.step} sessions), "
        f"{args.paths} paths, seed {args.seed}; {elapsed:.0f} s on {args.workers} processes\n"
    )
    bands = [str(b) for b in DEFAULT_BANDS]  # [10, 90], [5, 95], [25, 75]
    rows = []
    coverage80: dict[tuple[str, int], float] = {}
    pinball: dict[tuple[str, int], float] = {}
    for label in labels:
        mine = [o for o in outcomes if o.job.method == label]
        seconds = sum(o.seconds for o in mine)
        for h in horizons:
            results = [o.report.result(o.report.results[0].method, h) for o in mine]
            per_stock = [r.bands[0].coverage for r in results]
            coverage80[(label, h)] = pooled_coverage(results, 0)
            pinball[(label, h)] = pooled(results, "mean_pinball_loss")
            rows.append(
                [
                    label,
                    str(h),
                    f"{pooled_coverage(results, 2):.3f}",
                    f"{coverage80[(label, h)]:.3f}",
                    f"{pooled_coverage(results, 1):.3f}",
                    f"{min(per_stock):.2f}–{max(per_stock):.2f}",
                    f"{np.average([r.bands[0].mean_width for r in results]):.4f}",
                    f"{pinball[(label, h)]:.5f}",
                    f"{pooled_quantile(results, 1, 'hit_rate'):.3f}",
                    f"{pooled_quantile(results, 5, 'hit_rate'):.3f}",
                    f"{seconds / len(mine) / len(origins) * 1000:.0f}",
                ]
            )
    headers = [
        "method", "h", f"cov {bands[2]}", f"cov {bands[0]}", f"cov {bands[1]}",
        "cov80 per stock", "width80", "pinball", "hit p10", "hit p90", "ms/origin",
    ]  # fmt: skip
    print(table(headers, rows))
    levels = [q.percentile for q in outcomes[0].report.results[0].quantiles]
    print("\nPinball loss per quantile (pooled):\n")
    loss_rows = []
    for label in labels:
        mine = [o for o in outcomes if o.job.method == label]
        for h in horizons:
            results = [o.report.result(o.report.results[0].method, h) for o in mine]
            loss_rows.append(
                [label, str(h)]
                + [f"{pooled_quantile(results, j, 'pinball_loss'):.5f}" for j in range(len(levels))]
            )
    print(table(["method", "h", *(f"p{p:g}" for p in levels)], loss_rows))
    best = {h: min(methods, key=lambda m, h=h: abs(coverage80[(m, h)] - 0.80)) for h in horizons}
    lowest = {h: min(methods, key=lambda m, h=h: pinball[(m, h)]) for h in horizons}
    print("\nBest calibrated 80% band: " + ", ".join(f"h={h}: {m}" for h, m in best.items()))
    print("Lowest mean pinball loss: " + ", ".join(f"h={h}: {m}" for h, m in lowest.items()))
    keys = " ".join(
        f"coverage80_h{h}_{m}={coverage80[(m, h)]:.3f}" for m in methods for h in horizons
    )
    print(f"RESULT forecast {keys}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
