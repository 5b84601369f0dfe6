"""Regime benchmark: ClassifyRegime from a warm MongoDB cache against computing, and bulk history.

Set-up (untimed): two `quantmesh up --service marketdata --service regime` child processes over
fresh data dirs, one with the regime cache (MongoDB: mongod when on PATH, else nx-27017, started
by the service) and one with `QUANTMESH_REGIME_CACHE=false`; each ingests the DJI index and the
29 Dow stocks (daily, 2008-2018) and fits the same model on DJI. The load generator is this
process.

Measured in the same run:

- cache speedup: the same ClassifyRegime requests (symbol x date keys spread over 2011-2018),
  one at a time; p50 latency answered from the warm cache against p50 computed without a cache
  (read the symbol's bars from marketdata, filter, label). Ratio = computed / cached.
- warm latency under an open-loop load: requests start on a fixed schedule of `--rate` per
  second whatever the answers do; latency counts from the scheduled start (so queueing shows);
  p99 over `--seconds`.
- GetRegimeHistory for the 29 stocks over their 10 years: seconds, median of `--repeat`.

Last line: `RESULT regime cache_speedup=<ratio> classify_p99_ms=<ms> history_s=<s>`.
Targets: cache >= 20x faster than recomputing; p99 < 5 ms at 500 requests/s; history < 1 s.

    python bench/regime.py [--data ../shared/data] [--seconds 5] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quantmesh.regime.v1 import regime_pb2, regime_pb2_grpc

from bench._common import Served, median, serve_subprocess, shared_data, table
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.runtime.model_refs import ref_to_pb
from services.runtime.time_convert import to_timestamp

MODEL = "market@champion"
GLITCH = datetime(2015, 8, 31, tzinfo=UTC)  # DJI.csv's one bad row (high below open)


def load_bars(data: Path) -> tuple[pa.Table, list[str]]:
    dji = parse_csv(data / "index" / "DJI.csv").table
    dji = dji.filter(pc.not_equal(dji.column("time"), pa.scalar(GLITCH)))
    stocks = pa.concat_tables(
        [parse_csv(p).table for p in find_csv_files([data / "daily" / "dow30"])]
    )
    symbols = sorted(set(stocks.column("symbol").to_pylist()))
    return pa.concat_tables([dji, stocks]), symbols


async def prepare(served: Served, bars: pa.Table) -> None:
    await served.mesh.marketdata.ingest(bars, Frequency.DAILY, "bench")
    await served.mesh.regime.fit(["DJI"], end=datetime(2016, 12, 31, tzinfo=UTC))


def keys(symbols: list[str], per_symbol: int) -> list[tuple[str, datetime]]:
    start = datetime(2011, 1, 3, tzinfo=UTC)
    out = []
    for i, symbol in enumerate(symbols):
        for j in range(per_symbol):
            day = start + timedelta(days=(i * 37 + j * 53) % 2800)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            out.append((symbol, day))
    return out


def requests(keys_: list[tuple[str, datetime]]) -> list[regime_pb2.ClassifyRegimeRequest]:
    out = []
    for symbol, day in keys_:
        request = regime_pb2.ClassifyRegimeRequest(symbol=symbol, model=ref_to_pb(MODEL))
        request.time.CopyFrom(to_timestamp(day))
        out.append(request)
    return out


async def sequential(address: str, batch: list[regime_pb2.ClassifyRegimeRequest]) -> list[float]:
    """Latencies (ms) of one request at a time, and whether each came from the cache."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = regime_pb2_grpc.RegimeServiceStub(channel)
        latencies = []
        for request in batch:
            started = time.perf_counter()
            await stub.ClassifyRegime(request, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def warm(served: Served, batch: list[regime_pb2.ClassifyRegimeRequest]) -> float:
    """Ask every key until all are answered from the cache; the share cached on the last pass."""
    async with grpc.aio.insecure_channel(served.address) as channel:
        stub = regime_pb2_grpc.RegimeServiceStub(channel)
        cached = 0.0
        for _ in range(20):
            answers = [await stub.ClassifyRegime(r, timeout=30) for r in batch]
            cached = sum(a.cached for a in answers) / len(answers)
            if cached == 1.0:
                break
            await asyncio.sleep(0.5)  # background cache fills
    return cached


async def open_loop(
    address: str, batch: list[regime_pb2.ClassifyRegimeRequest], rate: float, seconds: float
) -> tuple[list[float], int, int]:
    """Latencies (ms) from each request's scheduled start, failures, and answers not cached."""
    latencies: list[float] = []
    failures: list[str] = []
    uncached = 0
    n = int(rate * seconds)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = regime_pb2_grpc.RegimeServiceStub(channel)
        start = time.perf_counter() + 0.05
        tasks = []

        async def one(i: int, scheduled: float) -> None:
            nonlocal uncached
            try:
                answer = await stub.ClassifyRegime(batch[i % len(batch)], timeout=10)
            except grpc.RpcError as exc:
                failures.append(exc.code().name)
                return
            uncached += not answer.cached
            latencies.append((time.perf_counter() - scheduled) * 1000)

        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    return latencies, len(failures), uncached


async def main(args: argparse.Namespace) -> None:
    data = shared_data(args.data)
    bars, symbols = load_bars(data)
    batch = requests(keys(["DJI", *symbols], args.per_symbol))
    print(f"{bars.num_rows:,} daily bars, {len(symbols)} stocks + DJI, {len(batch)} keys")
    async with (
        serve_subprocess(["marketdata", "regime"]) as cached_server,
        serve_subprocess(["marketdata", "regime"], {"QUANTMESH_REGIME_CACHE": "false"}) as plain,
    ):
        await asyncio.gather(prepare(cached_server, bars), prepare(plain, bars))
        share = await warm(cached_server, batch)
        print(f"cache warm: {share:.0%} of {len(batch)} keys answered from the cache")
        sample = batch[:: max(1, len(batch) // args.compute_calls)][: args.compute_calls]
        computed, hits = [], []
        for _ in range(args.repeat):  # interleaved rounds: both see the same machine load
            computed += await sequential(plain.address, sample)
            hits += await sequential(cached_server.address, batch[: args.hit_calls])
        await open_loop(cached_server.address, batch, min(args.rate, 100), 1.0)  # warm-up
        latencies, failed, uncached = await open_loop(
            cached_server.address, batch, args.rate, args.seconds
        )
        history_times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            history = await cached_server.mesh.regime.history(symbols, model=MODEL, timeout=60)
            history_times.append(time.perf_counter() - started)
        stats = await cached_server.mesh.regime.cache_stats()

    speedup = median(computed) / median(hits)
    p99 = float(np.percentile(latencies, 99)) if latencies else float("inf")
    history_s = median(history_times)
    print(
        table(
            ["measure", "value"],
            [
                ["computed (no cache) p50", f"{median(computed):.2f} ms"],
                ["cached p50", f"{median(hits):.2f} ms"],
                ["cache speedup", f"{speedup:.1f}x"],
                [f"open loop {args.rate:.0f}/s p50", f"{np.percentile(latencies, 50):.2f} ms"],
                [f"open loop {args.rate:.0f}/s p99", f"{p99:.2f} ms"],
                ["open loop failed / not cached", f"{failed} / {uncached}"],
                [f"history {history.num_rows:,} rows", f"{history_s:.3f} s"],
                [
                    "server: cache hit p50 / p99",
                    f"{stats.hit_p50_ms:.2f} / {stats.hit_p99_ms:.2f} ms",
                ],
            ],
        )
    )
    print(
        f"RESULT regime cache_speedup={speedup:.1f} classify_p99_ms={p99:.2f} "
        f"history_s={history_s:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--per-symbol", type=int, default=20)
    parser.add_argument("--compute-calls", type=int, default=40)
    parser.add_argument("--hit-calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
