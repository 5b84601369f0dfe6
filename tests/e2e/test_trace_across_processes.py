"""One trace across processes: marketdata, quality, signal, regime, backtest and forecast as six
`quantmesh up --service` processes exporting spans over OTLP/gRPC to a real receiver
(tests/otlp_receiver.py).

Each server finds the others through `QUANTMESH_<SERVICE>_ADDRESS`. This test process traces
too (its client spans and a span around each scenario go to the same receiver). Checked:

- ingest: test span → IngestBars (test → marketdata) → CheckBatch (marketdata's quality gate →
  quality) → GetBars (quality's history read → marketdata): one trace id, and every server
  span's parent is the client span in the calling process, whose parent is that process's
  server span; client streams, unary calls and server streams all carry the context.
- score: test span → Score (test → signal) → GetFeatures (signal → marketdata, a server stream).
- backtest: test span → RunBacktest (test → backtest), whose operation runs after the call
  returned in an `operations/backtest/backtest` span under it → GetBars (backtest → marketdata),
  ScoreBatch (backtest → signal) → GetFeatures (signal → marketdata), GetRegimeHistory
  (backtest → regime) → GetBars (regime → marketdata); then ForecastKpis (test → forecast) →
  StreamEquity (forecast → backtest). Every span of the trace descends from the test span.
- spans carry service.name, rpc.system/service/method and rpc.grpc.status_code, and the model
  and feature versions a call used (signal, regime, marketdata features);
- health checks (start-up polling) produce no spans at all.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from backtest import Operator, Rule, RuleGroup, Rules, sma_crossover
from services.backtest.domain.records import BacktestState
from services.clients.mesh import MeshClient
from services.clients.signal import wait_for_training
from services.forecast.domain.requests import ForecastRequest
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime import telemetry
from services.runtime.mongo import MongoServer
from services.runtime.ports import free_port
from services.runtime.settings import RuntimeSettings, load
from services.signal.domain.requests import TrainRequest
from tests.conftest import require_shared_data
from tests.mongo_server import mongo  # noqa: F401
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.unit.regime.conftest import dji_bars

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

QUANTMESH = str(Path(sys.executable).parent / "quantmesh")
SERVICES = ("marketdata", "quality", "signal", "regime", "backtest", "forecast")
SYMBOLS = ("AAPL", "JPM", "KO", "MSFT", "XOM")
MODEL = "traced"
REGIME_MODEL = "market"
MARKETDATA = "quantmesh.marketdata.v1.MarketDataService"
QUALITY = "quantmesh.quality.v1.QualityService"
SIGNAL = "quantmesh.signal.v1.SignalService"
REGIME = "quantmesh.regime.v1.RegimeService"
BACKTEST = "quantmesh.backtest.v1.BacktestService"
FORECAST = "quantmesh.forecast.v1.ForecastService"


class Detachable(SpanProcessor):
    """Forwards to `inner` until detached: the global tracer provider outlives this module, and
    an exporter left pointing at a stopped receiver would slow every later test."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner: SpanProcessor | None = inner

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        if self.inner is not None:
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.inner is not None:
            self.inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True if self.inner is None else self.inner.force_flush(timeout_millis)

    def detach(self) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.shutdown()


@dataclass
class Cluster:
    receiver: OtlpReceiver
    mesh: MeshClient
    provider: TracerProvider
    bars: pa.Table
    days: list[object]

    @property
    def client_service(self) -> str:
        return str(self.provider.resource.attributes["service.name"])


@contextmanager
def traced_here(receiver: OtlpReceiver) -> Iterator[TracerProvider]:
    """This process's tracer provider (the one telemetry installs), exporting to `receiver`.

    The provider is per process and set up once, so the name is the one the contract tests
    give it (tests/contract/test_telemetry.py): whichever module runs first, both hold."""
    provider = telemetry.setup_tracing("quantmesh-test")
    processor = Detachable(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
    provider.add_span_processor(processor)
    try:
        yield provider
    finally:
        processor.detach()


async def start_process(
    name: str, port: int, environ: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as log_file:
        return await asyncio.create_subprocess_exec(
            QUANTMESH, "up", "--service", name, "--host", "127.0.0.1", "--port", str(port),
            env=environ, stdout=log_file, stderr=log_file,
        )  # fmt: skip


async def wait_until_serving(
    mesh: MeshClient, processes: dict[str, asyncio.subprocess.Process], logs: dict[str, Path]
) -> None:
    deadline = time.monotonic() + 60
    for name, process in processes.items():
        while (await mesh.health(name).check(timeout=1.0)).status != "SERVING":
            if process.returncode is not None:
                tail = logs[name].read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n{tail}")
            assert time.monotonic() < deadline, f"{name} is not serving after 60s"
            await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Cluster]:
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    days = sorted(set(bars.column("time").to_pylist()))
    root = tmp_path_factory.mktemp("trace")
    ports = {name: free_port() for name in SERVICES}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTMESH_", "OTEL_"))}
    with OtlpReceiver() as receiver, traced_here(receiver) as provider:
        base |= {f"QUANTMESH_{n.upper()}_ADDRESS": f"127.0.0.1:{p}" for n, p in ports.items()}
        base |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # ms: spans reach the receiver quickly
            "QUANTMESH_MONGO_URI": mongo.uri,
            "QUANTMESH_SIGNAL_TRAIN_THREADS": "1",
            "QUANTMESH_SHUTDOWN_GRACE_S": "1",
        }
        processes: dict[str, asyncio.subprocess.Process] = {}
        logs = {name: root / f"{name}.log" for name in SERVICES}
        mesh = MeshClient(
            load(RuntimeSettings, environ={}),
            resolve=lambda service: f"127.0.0.1:{ports[service]}",
        )
        try:
            for name in SERVICES:
                environ = base | {"QUANTMESH_DATA_DIR": str(root / name)}
                processes[name] = await start_process(name, ports[name], environ, logs[name])
            await wait_until_serving(mesh, processes, logs)
            history = bars.filter(pc.less(bars.column("time"), days[-2]))
            await mesh.marketdata.ingest(history, Frequency.DAILY, "dow30", timeout=300)
            await mesh.marketdata.materialize_features("default", Frequency.DAILY, SYMBOLS)
            operation = await mesh.signal.train(
                TrainRequest(MODEL, folds=2, params={"n_estimators": 30.0})
            )
            # While the model trains: the index and a regime model fitted on it.
            await mesh.marketdata.ingest(dji_bars(), Frequency.DAILY, "index", timeout=300)
            await mesh.regime.fit(["DJI"], name=REGIME_MODEL)
            await wait_for_training(mesh.operations("signal"), operation, timeout=300)
            yield Cluster(receiver, mesh, provider, bars, days)
        finally:
            await mesh.close()
            for process in processes.values():
                if process.returncode is None:
                    process.terminate()
            for process in processes.values():
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def traced_call_tree(
    cluster: Cluster, test_span: trace.Span, expected: Sequence[str]
) -> list[ReceivedSpan]:
    """The spans of `test_span`'s trace once it is complete: a server span of every RPC and an
    internal span of every name in `expected` came, every client span's call has its server
    span, and every span's parent came.

    Enough to wait for: a process exports spans in the order they end, and a client span ends
    before the server (or operation) span of the call that made it, so once the outermost
    spans of a process came, its client spans did, and then the server spans they wait for."""
    cluster.provider.force_flush()
    trace_id = format(test_span.get_span_context().trace_id, "032x")

    def complete(spans: list[ReceivedSpan]) -> bool:
        mine = [s for s in spans if s.trace_id == trace_id]
        seen = {s.rpc for s in mine if s.kind == "SERVER"}
        seen |= {s.name for s in mine if s.kind == "INTERNAL"}
        answered = {s.parent_span_id for s in mine if s.kind == "SERVER"}
        calls = [s for s in mine if s.kind == "CLIENT"]
        ids = {s.span_id for s in mine}
        return (
            set(expected) <= seen
            and all(c.span_id in answered for c in calls)
            and all(s.parent_span_id in ids for s in mine if s.parent_span_id)
        )

    received = await asyncio.to_thread(cluster.receiver.wait_for, complete)
    return [s for s in received if s.trace_id == trace_id]


def chain_up(spans: list[ReceivedSpan], start: ReceivedSpan) -> list[ReceivedSpan]:
    """`start` and its ancestors, nearest first (each parent looked up by span id)."""
    by_id = {s.span_id: s for s in spans}
    chain = [start]
    while chain[-1].parent_span_id:
        parent = by_id.get(chain[-1].parent_span_id)
        assert parent is not None, f"parent of {chain[-1].name} is not in the trace"
        chain.append(parent)
    return chain


def one(spans: list[ReceivedSpan], service_name: str, kind: str, rpc: str) -> ReceivedSpan:
    found = [s for s in spans if (s.service_name, s.kind, s.rpc) == (service_name, kind, rpc)]
    assert found, f"no {kind} span of {rpc} from {service_name}"
    return found[0]


def called_by(
    spans: list[ReceivedSpan], service_name: str, rpc: str, caller: str
) -> list[ReceivedSpan]:
    """The server spans of `rpc` in `service_name` whose call came from the process `caller`."""
    by_id = {s.span_id: s for s in spans}
    found = [
        s
        for s in spans
        if (s.service_name, s.kind, s.rpc) == (service_name, "SERVER", rpc)
        and by_id.get(s.parent_span_id, s).service_name == caller
    ]
    assert found, f"no server span of {rpc} in {service_name} called from {caller}"
    return found


def path(chain: list[ReceivedSpan]) -> list[tuple[str, str, str]]:
    return [(s.service_name, s.kind, s.rpc or s.name) for s in chain]


def assert_rpc_attributes(span: ReceivedSpan) -> None:
    service, _, method = span.rpc.partition("/")
    assert span.name == f"/{service}/{method}"
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.grpc.status_code"] == 0
    assert span.status_code != "ERROR"
    assert span.service_name


async def test_an_ingest_is_one_trace_through_marketdata_quality_and_back(
    cluster: Cluster,
) -> None:
    day = cluster.bars.filter(pc.equal(cluster.bars.column("time"), cluster.days[-2]))
    tracer = trace.get_tracer("tests.e2e")
    with tracer.start_as_current_span("e2e: ingest one day") as test_span:
        await cluster.mesh.marketdata.ingest(day, Frequency.DAILY, "live")
    ingest, check, history = (
        f"{MARKETDATA}/IngestBars",
        f"{QUALITY}/CheckBatch",
        f"{MARKETDATA}/GetBars",
    )
    spans = await traced_call_tree(cluster, test_span, [ingest, check, history])
    assert {s.service_name for s in spans} >= {
        cluster.client_service,
        "quantmesh-marketdata",
        "quantmesh-quality",
    }
    downstream = one(spans, "quantmesh-marketdata", "SERVER", history)
    chain = chain_up(spans, downstream)
    assert [(s.service_name, s.kind, s.rpc or s.name) for s in chain] == [
        ("quantmesh-marketdata", "SERVER", history),
        ("quantmesh-quality", "CLIENT", history),
        ("quantmesh-quality", "SERVER", check),
        ("quantmesh-marketdata", "CLIENT", check),
        ("quantmesh-marketdata", "SERVER", ingest),
        (cluster.client_service, "CLIENT", ingest),
        (cluster.client_service, "INTERNAL", "e2e: ingest one day"),
    ]
    for span in chain[:-1]:
        assert_rpc_attributes(span)


async def test_a_score_is_one_trace_through_signal_and_marketdata(cluster: Cluster) -> None:
    tracer = trace.get_tracer("tests.e2e")
    with tracer.start_as_current_span("e2e: score") as test_span:
        answer = await cluster.mesh.signal.score(MODEL, "MSFT")
    assert answer.model.version == 1
    score, features = f"{SIGNAL}/Score", f"{MARKETDATA}/GetFeatures"
    spans = await traced_call_tree(cluster, test_span, [score, features])
    downstream = one(spans, "quantmesh-marketdata", "SERVER", features)
    chain = chain_up(spans, downstream)
    assert [(s.service_name, s.kind, s.rpc or s.name) for s in chain] == [
        ("quantmesh-marketdata", "SERVER", features),
        ("quantmesh-signal", "CLIENT", features),
        ("quantmesh-signal", "SERVER", score),
        (cluster.client_service, "CLIENT", score),
        (cluster.client_service, "INTERNAL", "e2e: score"),
    ]
    for span in chain[:-1]:
        assert_rpc_attributes(span)
        assert span.attributes["rpc.service"] == span.rpc.partition("/")[0]
        assert span.attributes["rpc.method"] == span.rpc.partition("/")[2]


async def test_a_backtest_is_one_trace_through_every_service_process(cluster: Cluster) -> None:
    # A session the signal service has no materialized features for: scoring it makes the
    # signal service compute them from marketdata, in the backtest's trace.
    last = cluster.bars.filter(pc.equal(cluster.bars.column("time"), cluster.days[-1]))
    await cluster.mesh.marketdata.ingest(last, Frequency.DAILY, "live")
    start = cluster.days[-1] - timedelta(days=200)  # type: ignore[operator]
    config = sma_crossover(
        SYMBOLS,
        10,
        30,
        name="traced",
        start=start,
        rules=Rules(
            long_entry=RuleGroup.of(
                Rule.signal(Operator.GT, 0.5), Rule.regime_in("CALM_UPTREND", symbol="DJI")
            )
        ),
        signal_model=f"{MODEL}@champion",
        regime_model=f"{REGIME_MODEL}@champion",
    )
    tracer = trace.get_tracer("tests.e2e")
    with tracer.start_as_current_span("e2e: backtest") as test_span:
        done = await cluster.mesh.backtest.run_and_wait(config, timeout=120)
        bands = await cluster.mesh.forecast.forecast_kpis(
            ForecastRequest(backtest_id=done.name, horizon=5, paths=50, seed=1)
        )
    assert done.state is BacktestState.SUCCEEDED and bands.horizon == 5
    signal_model, regime_model = done.provenance.signal_model, done.provenance.regime_model
    assert signal_model is not None and (signal_model.name, signal_model.version) == (MODEL, 1)
    assert regime_model is not None and regime_model.name == REGIME_MODEL

    run, operation = f"{BACKTEST}/RunBacktest", "operations/backtest/backtest"
    score, regimes = f"{SIGNAL}/ScoreBatch", f"{REGIME}/GetRegimeHistory"
    bars, features = f"{MARKETDATA}/GetBars", f"{MARKETDATA}/GetFeatures"
    forecast, equity = f"{FORECAST}/ForecastKpis", f"{BACKTEST}/StreamEquity"
    spans = await traced_call_tree(
        cluster, test_span, [run, operation, score, regimes, bars, features, forecast, equity]
    )
    client = cluster.client_service
    # One trace through six processes, every span of it under the test's span.
    assert {s.service_name for s in spans} == {
        client,
        "quantmesh-backtest",
        "quantmesh-signal",
        "quantmesh-regime",
        "quantmesh-marketdata",
        "quantmesh-forecast",
    }
    root = format(test_span.get_span_context().span_id, "016x")
    assert {chain_up(spans, span)[-1].span_id for span in spans} == {root}

    top = [
        ("quantmesh-backtest", "INTERNAL", operation),
        ("quantmesh-backtest", "SERVER", run),
        (client, "CLIENT", run),
        (client, "INTERNAL", "e2e: backtest"),
    ]
    from_signal = chain_up(
        spans, called_by(spans, "quantmesh-marketdata", features, "quantmesh-signal")[0]
    )
    assert path(from_signal) == [
        ("quantmesh-marketdata", "SERVER", features),
        ("quantmesh-signal", "CLIENT", features),
        ("quantmesh-signal", "SERVER", score),
        ("quantmesh-backtest", "CLIENT", score),
        *top,
    ]
    from_backtest = chain_up(
        spans, called_by(spans, "quantmesh-marketdata", bars, "quantmesh-backtest")[0]
    )
    assert path(from_backtest) == [
        ("quantmesh-marketdata", "SERVER", bars),
        ("quantmesh-backtest", "CLIENT", bars),
        *top,
    ]
    from_regime = chain_up(
        spans, called_by(spans, "quantmesh-marketdata", bars, "quantmesh-regime")[0]
    )
    assert path(from_regime) == [
        ("quantmesh-marketdata", "SERVER", bars),
        ("quantmesh-regime", "CLIENT", bars),
        ("quantmesh-regime", "SERVER", regimes),
        ("quantmesh-backtest", "CLIENT", regimes),
        *top,
    ]
    from_forecast = chain_up(spans, one(spans, "quantmesh-backtest", "SERVER", equity))
    assert path(from_forecast) == [
        ("quantmesh-backtest", "SERVER", equity),
        ("quantmesh-forecast", "CLIENT", equity),
        ("quantmesh-forecast", "SERVER", forecast),
        (client, "CLIENT", forecast),
        (client, "INTERNAL", "e2e: backtest"),
    ]
    for span in [*from_signal, *from_backtest, *from_regime, *from_forecast]:
        if span.kind != "INTERNAL":
            assert_rpc_attributes(span)
            assert span.attributes["rpc.service"] == span.rpc.partition("/")[0]
            assert span.attributes["rpc.method"] == span.rpc.partition("/")[2]

    # The work ran after RunBacktest returned, in the operation's span, which names what it read.
    server, work = from_backtest[-3], from_backtest[-4]
    assert server.attributes["quantmesh.backtest.id"] == done.id
    assert work.start_ns >= server.start_ns and work.end_ns > server.end_ns
    assert work.attributes["quantmesh.operation.state"] == "SUCCEEDED"
    assert work.attributes["quantmesh.backtest.signal_model"] == f"{MODEL}/1"
    assert work.attributes["quantmesh.backtest.regime_model"] == (
        f"{REGIME_MODEL}/{regime_model.version}"
    )
    # Model and feature versions on the spans of the calls that used them.
    for span in [s for s in spans if (s.kind, s.rpc) == ("SERVER", score)]:
        assert span.attributes[telemetry.MODEL_NAME] == MODEL
        assert span.attributes[telemetry.MODEL_VERSION] == 1
        assert span.attributes[telemetry.FEATURE_VIEW] == "default"
        assert span.attributes[telemetry.FEATURE_VERSION] == signal_model.feature_version
    history = one(spans, "quantmesh-regime", "SERVER", regimes)
    assert history.attributes[telemetry.MODEL_NAME] == REGIME_MODEL
    assert history.attributes[telemetry.MODEL_VERSION] == regime_model.version
    assert history.attributes[telemetry.FEATURE_VERSION] == regime_model.feature_version
    assert from_signal[0].attributes[telemetry.FEATURE_VERSION] == signal_model.feature_version


async def test_health_checks_produce_no_spans(cluster: Cluster) -> None:
    for name in SERVICES:
        assert (await cluster.mesh.health(name).check()).status == "SERVING"
    cluster.provider.force_flush()
    await asyncio.sleep(0.3)  # longer than the servers' export delay
    health = [s for s in cluster.receiver.spans() if "grpc.health.v1" in s.name]
    assert health == []
    # The servers did export (this is not an empty receiver passing by accident).
    assert {"quantmesh-marketdata", "quantmesh-quality", "quantmesh-signal"} <= {
        s.service_name for s in cluster.receiver.spans()
    }
