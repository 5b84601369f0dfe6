"""Signal serving benchmark: one model served over gRPC and by a FastAPI + uvicorn JSON endpoint.

Set-up (untimed): `quantmesh up --service marketdata --service signal` in a child process over a
fresh data dir; the Dow stocks ingested except their last `--live-days` sessions; the default
feature view materialized; one LightGBM model trained and registered. The FastAPI baseline
(bench/fastapi_scoring.py) runs under uvicorn in another child process and loads the same model
version from the same MLflow store. The load generator is this process.

Measured in the same run:

- batch scoring: requests of 1,000 feature rows (the same rows for both), `--concurrency` in
  flight, for `--seconds` each, interleaved; rows per second. gRPC sends Arrow (`ScoreBatch`),
  FastAPI JSON. Scores are checked equal.
- `Score` latency under an open-loop load: requests start on a fixed schedule of `--rate` per
  second whatever the answers do, and latency counts from the scheduled start (so queueing
  shows); p50/p99 over `--seconds`.
- fan-out: `--subscribers` SubscribeSignals streams on all symbols; each of the last
  `--live-days` sessions is ingested, and the time from the ingest call to each subscriber's
  receipt of that session's signals is recorded; p50/p99/max over all deliveries.

Last line: `RESULT signal_serving batch_vs_fastapi=<ratio> score_p99_ms=<ms> fanout_p99_ms=<ms>`
(`RESULT signal_serving fanout_p99_ms=<ms>` with `--only fanout`, which skips the FastAPI
baseline, batch scoring and `Score`).
Targets: ratio >= 3; Score p99 < 5 ms at 1,000 requests/s; fan-out p99 < 100 ms at 200
subscribers.

    python bench/signal_serving.py [--data ../shared/data] [--seconds 5] [--rate 1000]
                                   [--only fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quantmesh.signal.v1 import signal_pb2, signal_pb2_grpc

from bench._common import (
    free_port,
    result_line,
    serve_subprocess,
    shared_data,
    table,
)
from services.clients.mesh import MeshClient
from services.clients.signal import wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.runtime.model_refs import ref_to_pb
from services.runtime.time_convert import to_timestamp
from services.signal.domain.requests import TrainRequest

MODEL = "bench-direction"
ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


@contextlib.asynccontextmanager
async def fastapi_server(mlflow_root: Path) -> AsyncIterator[str]:
    port = free_port()
    environ = dict(os.environ)
    environ |= {"QUANTMESH_BENCH_MLFLOW": str(mlflow_root), "QUANTMESH_BENCH_MODEL": MODEL}
    environ["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "bench.fastapi_scoring:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        env=environ, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/docs")).status_code == 200:
                    break
            if process.returncode is not None:
                err = await process.stderr.read() if process.stderr else b""
                sys.exit(f"error: uvicorn exited: {err.decode(errors='replace')[-2000:]}")
            await asyncio.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        await process.wait()


async def batch_throughput_grpc(
    mesh: MeshClient, rows: pa.Table, seconds: float, concurrency: int
) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await mesh.signal.score_batch(MODEL, rows)
            done += rows.num_rows

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def batch_throughput_fastapi(
    url: str, payload: dict[str, object], rows: int, seconds: float, concurrency: int
) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                response = await client.post(f"{url}/score", json=payload)
                response.raise_for_status()
                done += rows

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def open_loop_score(
    address: str, keys: list[tuple[str, object]], rate: float, seconds: float
) -> list[float]:
    """Latencies (ms) of Score requests started on a fixed schedule, from the scheduled time.

    The load generator calls the stub on a plain channel with prebuilt requests: at 1,000
    requests a second from one Python process, the typed client's own per-call work (client
    interceptors, conversions) would saturate the generator and be measured as server latency.
    """
    latencies: list[float] = []
    failures: list[str] = []
    tasks = []
    n = int(rate * seconds)
    channel = grpc.aio.insecure_channel(address)
    stub = signal_pb2_grpc.SignalServiceStub(channel)
    requests = []
    for symbol, when in keys:
        request = signal_pb2.ScoreRequest(model=ref_to_pb(MODEL), symbol=symbol)
        request.time.CopyFrom(to_timestamp(when))  # type: ignore[arg-type]
        requests.append(request)
    start = time.perf_counter() + 0.05

    async def one(i: int, scheduled: float) -> None:
        try:
            await stub.Score(requests[i % len(requests)], timeout=10)
        except grpc.RpcError as exc:
            failures.append(exc.code().name)  # an overloaded server refuses: count, go on
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    await channel.close()
    if failures:
        print(f"  {len(failures)} of {n} Score calls failed: {sorted(set(failures))}")
    return latencies


async def fanout(
    mesh: MeshClient, live_days: list[pa.Table], subscribers: int
) -> list[list[float]]:
    """Ingest-to-delivery latencies (ms) of every subscriber, per live day.

    Receipt times are taken as each subscriber's message arrives; the load generator waits for
    the last one on an event (a polling loop over the subscribers would compete with them for
    this process's event loop while deliveries arrive)."""
    symbols = set(live_days[0].column("symbol").to_pylist())
    received: dict[int, list[tuple[float, object]]] = {i: [] for i in range(subscribers)}
    counts: collections.Counter[object] = collections.Counter()
    complete: collections.defaultdict[object, asyncio.Event] = collections.defaultdict(
        asyncio.Event
    )
    ready = asyncio.Event()
    subscribed = 0

    async def subscriber(i: int) -> None:
        nonlocal subscribed
        first = True
        async for update in mesh.signal.subscribe(MODEL, heartbeat_s=0.5):
            if first:
                first = False
                subscribed += 1
                if subscribed == subscribers:
                    ready.set()
            if not update.heartbeat:
                received[i].append((time.perf_counter(), update.bar_time))
                assert set(update.signals) == symbols, "a signal batch missed symbols"
                counts[update.bar_time] += 1
                if counts[update.bar_time] == subscribers:
                    complete[update.bar_time].set()
                if len(received[i]) == len(live_days):
                    return

    tasks = [asyncio.create_task(subscriber(i)) for i in range(subscribers)]
    await asyncio.wait_for(ready.wait(), 60)
    latencies = []
    for day in live_days:
        started = time.perf_counter()
        await mesh.marketdata.ingest(day, Frequency.DAILY, "live")
        bar_time = day.column("time")[0].as_py()
        try:
            await asyncio.wait_for(complete[bar_time].wait(), 30)
        except TimeoutError:
            sys.exit("error: a subscriber did not receive a live day within 30 s")
        latencies.append(
            [(at - started) * 1000 for got in received.values() for at, t in got if t == bar_time]
        )
        await asyncio.sleep(0.3)
    await asyncio.gather(*tasks)
    return latencies


def report_fanout(per_day: list[list[float]], subscribers: int) -> float:
    """Print the fan-out figures; the p99 over all deliveries."""
    deliveries = [ms for day in per_day for ms in day]
    fan_p50, fan_p99 = percentile(deliveries, 50), percentile(deliveries, 99)
    print(
        f"\nfan-out: {subscribers} subscribers x {len(per_day)} live sessions "
        f"({len(deliveries):,} deliveries), ingest call to receipt: p50 {fan_p50:.1f} ms, "
        f"p99 {fan_p99:.1f} ms, max {max(deliveries):.1f} ms (target p99 < 100 ms)"
    )
    print("  per session, first / last receipt (ms): " + ", ".join(
        f"{min(day):.0f} / {max(day):.0f}" for day in per_day
    ))  # fmt: skip
    return fan_p99


async def main(args: argparse.Namespace) -> None:
    folder = shared_data(args.data) / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(p).table for p in find_csv_files([folder])])
    days = sorted(set(bars.column("time").to_pylist()))
    cut = days[-args.live_days]
    history = bars.filter(pc.less(bars.column("time"), cut))
    live = [bars.filter(pc.equal(bars.column("time"), d)) for d in days[-args.live_days :]]
    print(f"set-up: {bars.num_rows:,} Dow bars, {len(live)} live sessions held back")

    async with serve_subprocess(["marketdata", "signal"]) as served:
        mesh = served.mesh
        await mesh.marketdata.ingest(history, Frequency.DAILY, "dow30", timeout=600)
        view = await mesh.marketdata.materialize_features("default", Frequency.DAILY, timeout=600)
        operation = await mesh.signal.train(
            TrainRequest(MODEL, feature_version=view.version, folds=3,
                         params={"n_estimators": 200.0})
        )  # fmt: skip
        await wait_for_training(mesh.operations("signal"), operation)
        if args.only == "fanout":
            fan_p99 = report_fanout(await fanout(mesh, live, args.subscribers), args.subscribers)
            print(result_line("signal_serving", "fanout_p99_ms", fan_p99))
            return
        _, features = await mesh.marketdata.get_features("default", view.version)
        rows = features.slice(features.num_rows // 2, 1000)
        json_rows = [
            {
                k: (None if v is None else (v.isoformat() if k == "time" else v))
                for k, v in r.items()
            }
            for r in rows.to_pylist()
        ]
        payload: dict[str, object] = {"rows": json_rows}

        async with fastapi_server(served.data_dir / "mlflow") as url:
            async with httpx.AsyncClient() as client:
                check = (await client.post(f"{url}/score", json=payload)).json()["scores"]
            grpc_scores = (await mesh.signal.score_batch(MODEL, rows)).column("score").to_pylist()
            assert np.allclose(check, grpc_scores, atol=1e-12), "the two paths disagree"
            grpc_rates, fastapi_rates = [], []
            for _ in range(args.repeat):
                grpc_rates.append(
                    await batch_throughput_grpc(mesh, rows, args.seconds, args.concurrency)
                )
                fastapi_rates.append(
                    await batch_throughput_fastapi(
                        url, payload, rows.num_rows, args.seconds, args.concurrency
                    )
                )
        grpc_rate, fastapi_rate = float(np.median(grpc_rates)), float(np.median(fastapi_rates))
        ratio = grpc_rate / fastapi_rate
        print("\nbatch scoring, 1,000 rows a request, rows/s (median of repeats):")
        print(table(["path", "rows/s", "requests/s"], [
            ["gRPC ScoreBatch (Arrow)", f"{grpc_rate:,.0f}", f"{grpc_rate / 1000:,.1f}"],
            ["FastAPI + uvicorn (JSON)", f"{fastapi_rate:,.0f}", f"{fastapi_rate / 1000:,.1f}"],
        ]))  # fmt: skip
        print(f"ratio gRPC / FastAPI: {ratio:.2f} (target >= 3)")

        keys = list(zip(rows.column("symbol").to_pylist(), rows.column("time").to_pylist(),
                        strict=True))  # fmt: skip
        await open_loop_score(served.address, keys, min(args.rate, 200), 1.0)  # warm-up
        latencies = await open_loop_score(served.address, keys, args.rate, args.seconds)
        score_p50, score_p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(
            f"\nScore, open loop at {args.rate:.0f}/s for {args.seconds:.0f}s "
            f"({len(latencies):,} requests): p50 {score_p50:.2f} ms, p99 {score_p99:.2f} ms, "
            f"max {max(latencies):.1f} ms (target p99 < 5 ms)"
        )

        fan_p99 = report_fanout(await fanout(mesh, live, args.subscribers), args.subscribers)
    print(
        result_line("signal_serving", "batch_vs_fastapi", ratio)
        + f" score_p99_ms={score_p99:.3f} fanout_p99_ms={fan_p99:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--live-days", type=int, default=5)
    parser.add_argument(
        "--only", choices=["all", "fanout"], default="all", help="fanout: the fan-out part only"
    )
    asyncio.run(main(parser.parse_args()))
