"""Tracing overhead: ScoreBatch throughput of the signal service with tracing off, sampling 0.1
and sampling 1.0 (OTLP/gRPC export to a real receiver), in one run.

Set-up (untimed), over one fresh temporary folder: a MongoDB server, an OTLP receiver in its own
process (`python -m tests.otlp_receiver`, counting spans, so receiving does not compete with the
load generator for the GIL), `quantmesh up --service marketdata`, and a signal server that
trains one LightGBM model on the Dow stocks (default view, 200 trees) and is then stopped. The
measured servers are `quantmesh up --service signal` processes sharing that MLflow store, one
per configuration, set by environment as an operator would:

- `off`: no `OTEL_EXPORTER_OTLP_ENDPOINT` (the default: no export);
- `0.1`: the endpoint set, `QUANTMESH_TRACE_SAMPLE_RATIO=0.1`;
- `1.0`: the endpoint set, `QUANTMESH_TRACE_SAMPLE_RATIO=1.0`.

The load generator (this process) sends one prebuilt `ScoreBatch` request of `--batch-rows`
feature rows on plain channels (no client tracing, so each server span is a root and the
server's parent-based ratio sampler decides), `--concurrency` in flight, for `--seconds`; rows
per second, and the server's CPU time per request (/proc). Every round starts three fresh
servers and runs the configurations in rotating order (off, 0.1, 1.0; 0.1, 1.0, off; ...):
identical servers differ by several percent from process to process, more than the effect
measured. One warm-up round, then medians of `--repeat` rounds. At the end the receiver's span
count is compared with what the sampled servers should have exported (dropped spans show).

Throughput on a shared two-core machine moves by several percent between rounds, about as much
as the targets allow, so the benchmark also times one server span alone in this process (the
SDK path the gRPC interceptor takes, with the sampler and exporter of each configuration; CPU
time, best of three) and prints what it adds as a share of a request's server CPU time.

Last line: `RESULT tracing overhead_at_0_1=<fraction> overhead_at_1_0=<fraction>`, where a
fraction is 1 - throughput_traced / throughput_off. Targets: <= 0.05 at 0.1, <= 0.15 at 1.0.

    python bench/tracing.py [--data ../shared/data] [--seconds 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pyarrow as pa
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quantmesh.common.v1 import arrow_pb2, model_ref_pb2
from quantmesh.signal.v1 import signal_pb2, signal_pb2_grpc

from bench._common import (
    SERVER_START_TIMEOUT_S,
    SERVER_STOP_TIMEOUT_S,
    client_settings,
    median,
    quantmesh_command,
    result_line,
    shared_data,
    table,
)
from services.clients.mesh import MeshClient
from services.clients.signal import wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.runtime.arrow_frames import encode_table
from services.runtime.mongo import MongoServer
from services.runtime.ports import free_port
from services.signal.domain.requests import TrainRequest

MODEL = "bench-tracing"
ROOT = Path(__file__).resolve().parent.parent
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 32 * 1024 * 1024)]
WARMUP_CALLS = 5
#: Spans per timing of one span's cost.
SPANS = 20_000


@dataclass
class Config:
    name: str
    environ: dict[str, str]
    rates: list[float] = field(default_factory=list)
    #: Server CPU time (user + system) per request, in ms, one value per round.
    cpu_ms: list[float] = field(default_factory=list)
    requests: int = 0


@dataclass
class Child:
    process: asyncio.subprocess.Process
    log: Path

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""


async def spawn(command: list[str], environ: Mapping[str, str], log: Path) -> Child:
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=dict(environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    return Child(process, log)


async def stop(child: Child) -> None:
    if child.process.returncode is not None:
        return
    child.process.terminate()
    try:
        await asyncio.wait_for(child.process.wait(), SERVER_STOP_TIMEOUT_S)
    except TimeoutError:
        child.process.kill()
        await child.process.wait()


async def serve(
    service: str, environ: Mapping[str, str], folder: Path, label: str
) -> tuple[Child, str]:
    """`quantmesh up --service SERVICE` on a free port, once it answers health checks."""
    port = free_port()
    command = [*quantmesh_command(), "up", "--service", service]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    child = await spawn(command, environ, folder / f"{label}.log")
    address = f"127.0.0.1:{port}"
    async with MeshClient(client_settings(address), address=address) as mesh:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while (await mesh.health(service).check(timeout=1.0)).status != "SERVING":
            if child.process.returncode is not None or time.monotonic() > deadline:
                await stop(child)
                sys.exit(f"error: {label} did not start:\n{child.tail()}")
            await asyncio.sleep(0.1)
    return child, address


@contextlib.asynccontextmanager
async def otlp_receiver(folder: Path) -> AsyncIterator[tuple[str, Child]]:
    """The receiver in its own process; yields its endpoint and the process."""
    port = free_port()
    environ = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.otlp_receiver", "--port", str(port)]
    log = folder / "receiver.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command, env=environ, stdout=asyncio.subprocess.PIPE, stderr=log_file, cwd=ROOT
        )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), SERVER_START_TIMEOUT_S)
    if not line.startswith(b"listening"):
        sys.exit(f"error: the OTLP receiver did not start: {line!r}\n{log.read_text()[-2000:]}")
    child = Child(process, log)
    try:
        yield f"http://127.0.0.1:{port}", child
    finally:
        await stop(child)


async def receiver_counts(child: Child) -> dict[str, int]:
    await stop(child)
    assert child.process.stdout is not None
    last = (await child.process.stdout.read()).decode().strip().splitlines()
    counts: dict[str, int] = json.loads(last[-1]) if last else {}
    return counts


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 where unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(
    stub: signal_pb2_grpc.SignalServiceStub,
    request: signal_pb2.ScoreBatchRequest,
    seconds: float,
    concurrency: int,
) -> tuple[float, int]:
    """Seconds taken and requests answered, `concurrency` in flight for about `seconds`."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await stub.ScoreBatch(request, timeout=30)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, done


#: A server span as the gRPC instrumentation starts it (name, kind and attributes).
SPAN_NAME = "/quantmesh.signal.v1.SignalService/ScoreBatch"
SPAN_ATTRIBUTES: dict[str, str | int] = {
    "rpc.system": "grpc",
    "rpc.grpc.status_code": 0,
    "rpc.method": "ScoreBatch",
    "rpc.service": "quantmesh.signal.v1.SignalService",
    "rpc.user_agent": "grpc-python-asyncio/1.85.1 grpc-c/58.0.0 (linux; chttp2)",
    "net.peer.ip": "127.0.0.1",
    "net.peer.port": "50000",
    "net.peer.name": "localhost",
}


def span_cost_us(ratio: float, endpoint: str, spans: int) -> float:
    """Process CPU microseconds per server span: the provider `telemetry.setup_tracing` builds
    (parent-based ratio sampler; BatchSpanProcessor + OTLP exporter when `endpoint`), rebuilt
    here because the global one is set once per process. Process CPU, so the export thread's
    encoding and sending count too."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "bench-tracing"}),
        sampler=ParentBased(TraceIdRatioBased(ratio)),
        shutdown_on_exit=False,
    )
    if endpoint:
        # A queue for every span: this loop makes spans faster than any server, and the default
        # queue (2,048) would drop most of them unexported, hiding the export's cost.
        exporter = OTLPSpanExporter(endpoint=endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=spans))
    tracer = provider.get_tracer("bench")
    start = time.process_time()
    for _ in range(spans):
        with tracer.start_as_current_span(
            SPAN_NAME, kind=SpanKind.SERVER, attributes=SPAN_ATTRIBUTES
        ) as span:
            span.set_attribute("rpc.grpc.status_code", 0)
    provider.force_flush()
    cost = (time.process_time() - start) / spans * 1e6
    provider.shutdown()
    return cost


async def main(args: argparse.Namespace) -> None:
    folder = shared_data(args.data) / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(p).table for p in find_csv_files([folder])])
    print(f"set-up: {bars.num_rows:,} Dow bars")
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-tracing-") as tmp:
        root = Path(tmp)
        mongo = MongoServer(root / "mongo")
        await asyncio.to_thread(mongo.start)
        children: list[Child] = []
        try:
            async with otlp_receiver(root) as (endpoint, receiver):
                await run(args, bars, root, mongo.uri, endpoint, receiver, children)
        finally:
            for child in children:
                await stop(child)
            await asyncio.to_thread(mongo.stop)


async def run(
    args: argparse.Namespace,
    bars: pa.Table,
    root: Path,
    mongo_uri: str,
    endpoint: str,
    receiver: Child,
    children: list[Child],
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTMESH_", "OTEL_"))}
    base |= {
        "QUANTMESH_DATA_DIR": str(root / "var"),
        "QUANTMESH_MONGO_URI": mongo_uri,
        "QUANTMESH_SHUTDOWN_GRACE_S": "1",
        "QUANTMESH_SIGNAL_FOLLOW_INGESTS": "false",
        "QUANTMESH_SIGNAL_TRAIN_THREADS": "2",
    }
    marketdata, market_address = await serve("marketdata", base, root, "marketdata")
    children.append(marketdata)
    base["QUANTMESH_MARKETDATA_ADDRESS"] = market_address
    traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    configs = [
        Config("off", {}),
        Config("0.1", traced | {"QUANTMESH_TRACE_SAMPLE_RATIO": "0.1"}),
        Config("1.0", traced | {"QUANTMESH_TRACE_SAMPLE_RATIO": "1.0"}),
    ]
    # Training runs in a server of its own, stopped before timing, so that no measured server
    # differs from the others by what it did before (caches, thread pools, heap).
    trainer, trainer_address = await serve(
        "signal", base | {"QUANTMESH_SIGNAL_DB": str(root / "signal-train.duckdb")}, root, "train"
    )
    children.append(trainer)
    resolve = {"marketdata": market_address, "signal": trainer_address}
    async with MeshClient(client_settings(market_address), resolve=resolve.__getitem__) as mesh:
        await mesh.marketdata.ingest(bars, Frequency.DAILY, "dow30", timeout=600)
        view = await mesh.marketdata.materialize_features("default", Frequency.DAILY, timeout=600)
        operation = await mesh.signal.train(
            TrainRequest(MODEL, feature_version=view.version, folds=2,
                         params={"n_estimators": 200.0})
        )  # fmt: skip
        await wait_for_training(mesh.operations("signal"), operation)
        _, features = await mesh.marketdata.get_features("default", view.version)
    await stop(trainer)
    rows = features.slice(features.num_rows // 2, args.batch_rows)
    request = signal_pb2.ScoreBatchRequest(
        model=model_ref_pb2.ModelRef(name=MODEL, alias="champion"),
        rows=arrow_pb2.ArrowFrame(ipc_stream=encode_table(rows), row_count=rows.num_rows),
    )
    print(
        f"\n{args.repeat} rounds (+1 warm-up) of {args.seconds:.0f}s per configuration, "
        f"{args.concurrency} requests in flight, {rows.num_rows:,} rows a request"
    )
    for round_ in range(args.repeat + 1):
        # Fresh servers every round, started and measured in rotating order: identical servers
        # differ by several percent from process to process (measured with three `off` ones),
        # more than the effect measured here, so no configuration may keep one process.
        order = [configs[(round_ + i) % len(configs)] for i in range(len(configs))]
        line: list[str] = []
        servers: list[tuple[Config, Child, grpc.aio.Channel]] = []
        try:
            for config in order:
                environ = base | config.environ
                environ["QUANTMESH_SIGNAL_DB"] = str(root / f"signal-{config.name}-{round_}.db")
                child, address = await serve("signal", environ, root, f"signal-{config.name}")
                children.append(child)
                channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
                servers.append((config, child, channel))
                stub = signal_pb2_grpc.SignalServiceStub(channel)
                for _ in range(WARMUP_CALLS):  # the model loads on the first call
                    await stub.ScoreBatch(request, timeout=60)
                config.requests += WARMUP_CALLS
            # Each configuration's time is cut into `--slices` windows, interleaved, so a
            # neighbour's load spreads over all three alike. Per configuration: seconds,
            # requests, server CPU seconds.
            spent: dict[str, list[float]] = {c.name: [0.0, 0.0, 0.0] for c in configs}
            for _ in range(args.slices):
                for config, child, channel in servers:
                    stub = signal_pb2_grpc.SignalServiceStub(channel)
                    cpu_before = cpu_seconds(child.process.pid)
                    elapsed, sent = await throughput(
                        stub, request, args.seconds / args.slices, args.concurrency
                    )
                    totals = spent[config.name]
                    totals[0] += elapsed
                    totals[1] += sent
                    totals[2] += cpu_seconds(child.process.pid) - cpu_before
                    config.requests += sent
            for config in configs:
                seconds, answered, cpu = spent[config.name]
                config.rates.append(answered * rows.num_rows / seconds)
                config.cpu_ms.append(cpu * 1000 / answered)
                line.append(f"{config.name} {config.rates[-1]:,.0f}")
            if round_ == 0:  # warm-up
                for config in configs:
                    del config.rates[-1], config.cpu_ms[-1]
        finally:
            for _, child, channel in servers:
                await channel.close()
                await stop(child)  # a clean exit flushes the span queue
        print(f"  round {round_ or 'warm-up'}: " + ", ".join(line) + " rows/s")

    # The cost of one server span alone, in this process (quiet: the servers are stopped).
    micro = {c.name: 0.0 for c in configs}
    micro_exported = 0.0
    for name, ratio, export in (("off", 1.0, ""), ("0.1", 0.1, endpoint), ("1.0", 1.0, endpoint)):
        micro[name] = min(span_cost_us(ratio, export, SPANS) for _ in range(3))
        micro_exported += 3 * SPANS * ratio if export else 0

    await stop(marketdata)
    counts = await receiver_counts(receiver)
    # Overhead per round (the three servers of a round ran side by side), then the median.
    off = configs[0]
    overhead = {
        c.name: median([1 - t / o for t, o in zip(c.rates, off.rates, strict=True)])
        for c in configs
    }
    off_cpu = median(off.cpu_ms)
    targets = {"off": "", "0.1": "<= 0.05", "1.0": "<= 0.15"}
    print("\nScoreBatch throughput and server CPU per request, medians of rounds:")
    headers = ["configuration", "rows/s", "requests/s", "overhead", "target"]
    headers += ["server CPU ms/request", "extra CPU"]
    lines = []
    for c in configs:
        rate, cpu = median(c.rates), median(c.cpu_ms)
        lines.append([
            f"tracing {c.name}", f"{rate:,.0f}", f"{rate / rows.num_rows:,.1f}",
            f"{overhead[c.name]:+.3f}", targets[c.name], f"{cpu:.3f}", f"{cpu / off_cpu - 1:+.3f}",
        ])  # fmt: skip
    print(table(headers, lines))
    print(
        "\none server span alone (the SDK path the interceptor takes), process CPU, best of 3 x "
        f"{SPANS:,} spans; extra over `off` as a share of `off`'s server CPU per request:"
    )
    print(table(
        ["configuration", "us/span", "extra us/request", "share of a request"],
        [
            [f"tracing {name}", f"{cost:.1f}", f"{cost - micro['off']:+.1f}",
             f"{(cost - micro['off']) / (off_cpu * 1000):+.4f}"]
            for name, cost in micro.items()
        ],
    ))  # fmt: skip
    expected = configs[2].requests + 0.1 * configs[1].requests + micro_exported
    print(
        f"\nspans received: {counts.get('spans', 0):,} in {counts.get('requests', 0):,} exports; "
        f"expected about {expected:,.0f} (all {configs[2].requests:,} calls at 1.0, a tenth of "
        f"{configs[1].requests:,} at 0.1, {micro_exported:,.0f} from the span timing)"
    )
    print(
        result_line("tracing", "overhead_at_0_1", overhead["0.1"])
        + f" overhead_at_1_0={overhead['1.0']:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="time per configuration per round"
    )
    parser.add_argument("--slices", type=int, default=4, help="interleaved windows per round")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--batch-rows", type=int, default=1000, help="rows a request (fewer: per-call cost shows)"
    )
    asyncio.run(main(parser.parse_args()))
