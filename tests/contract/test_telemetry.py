"""Tracing and logging: one trace from client to server, health untraced, trace ids in logs;
spans carry the model and feature versions a call used, and a long-running operation's work runs
in a span under the call that started it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.clients.signal import wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime import telemetry
from services.runtime.errors import NotFound
from services.runtime.mongo import MongoServer
from services.signal.domain.requests import TrainRequest
from tests.conftest import Served, require_shared_data, serve, server_settings, shutdown
from tests.mongo_server import mongo  # noqa: F401

MARKETDATA = "quantmesh.marketdata.v1.MarketDataService"
SIGNAL = "quantmesh.signal.v1.SignalService"
MODEL = "telemetry"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = telemetry.setup_tracing("quantmesh-test")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


def by_kind(
    spans: tuple[ReadableSpan, ...], method: str, service: str = MARKETDATA
) -> dict[str, ReadableSpan]:
    return {s.kind.name: s for s in spans if s.name == f"/{service}/{method}"}


def attributes(span: ReadableSpan) -> Mapping[str, object]:
    return span.attributes or {}


async def test_a_call_is_one_trace_from_client_to_server(
    served: Served, spans: InMemorySpanExporter
) -> None:
    await served.mesh.marketdata.list_symbols()
    pair = by_kind(spans.get_finished_spans(), "ListSymbols")
    client, server = pair["CLIENT"], pair["SERVER"]
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None
    assert server.parent.span_id == client.context.span_id
    assert attributes(server)["rpc.service"] == MARKETDATA
    assert attributes(server)["rpc.method"] == "ListSymbols"
    assert server.resource.attributes["service.name"] == "quantmesh-test"


async def test_failed_calls_record_their_status_code(
    served: Served, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(NotFound):
        await served.mesh.marketdata.get_bars(["NOPE"])
    # An aborted call's status reaches the client before the server's layers unwind and end
    # the span (a successful call's span ends before its answer is sent).
    for _ in range(200):
        if "SERVER" in by_kind(spans.get_finished_spans(), "GetBars"):
            break
        await asyncio.sleep(0.01)
    server = by_kind(spans.get_finished_spans(), "GetBars")["SERVER"]
    assert attributes(server)["rpc.grpc.status_code"] == 5  # NOT_FOUND


async def test_health_checks_are_not_traced(served: Served, spans: InMemorySpanExporter) -> None:
    await served.mesh.health("marketdata").check(MARKETDATA)
    assert [s.name for s in spans.get_finished_spans()] == []


async def test_access_logs_are_json_with_the_trace_id(
    served: Served, spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    telemetry.setup_logging("INFO", "json")
    try:
        await served.mesh.marketdata.list_symbols()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [access] = [line for line in lines if line.get("rpc_method", "").endswith("/ListSymbols")]
    server = by_kind(spans.get_finished_spans(), "ListSymbols")["SERVER"]
    assert access["trace_id"] == format(server.context.trace_id, "032x")
    assert access["rpc_outcome"] == "OK"


@dataclass
class Trained:
    """Marketdata and signal with the default feature view and one model, and the spans of
    training it (submit, the operation's work, and its reads from marketdata)."""

    served: Served
    feature_version: str
    operation: str
    training_spans: tuple[ReadableSpan, ...]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trained(
    exporter: InMemorySpanExporter,
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Trained]:
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in ("KO", "MSFT")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTMESH_MONGO_URI", mongo.uri)
        patch.setenv("QUANTMESH_MARKETDATA_QUALITY_GATE", "off")
        patch.setenv("QUANTMESH_SIGNAL_TRAIN_THREADS", "1")
        settings = server_settings(tmp_path_factory.mktemp("telemetry"))
        served = await serve(settings, ["marketdata", "signal"])
        try:
            await served.mesh.marketdata.ingest(bars, Frequency.DAILY, "dow30")
            view = await served.mesh.marketdata.materialize_features("default", Frequency.DAILY)
            exporter.clear()
            operation = await served.mesh.signal.train(
                TrainRequest(MODEL, folds=2, params={"n_estimators": 30.0})
            )
            await wait_for_training(served.mesh.operations("signal"), operation, timeout=300)
            yield Trained(served, view.version, operation, exporter.get_finished_spans())
        finally:
            await shutdown(served)


def versions(span: ReadableSpan) -> dict[str, object]:
    """The span's quantmesh.* attributes."""
    return {k: v for k, v in attributes(span).items() if k.startswith("quantmesh.")}


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_score_and_feature_spans_carry_the_versions_they_used(
    trained: Trained, spans: InMemorySpanExporter
) -> None:
    answer = await trained.served.mesh.signal.score(f"{MODEL}@champion", "MSFT")
    view, _ = await trained.served.mesh.marketdata.get_features("default", None, ["KO"])
    finished = spans.get_finished_spans()
    score = by_kind(finished, "Score", SIGNAL)["SERVER"]
    # The alias resolved: the version that answered, and the feature version it reads.
    assert answer.model.version == 1 and answer.model.feature_version == trained.feature_version
    assert versions(score) == {
        telemetry.MODEL_NAME: MODEL,
        telemetry.MODEL_VERSION: 1,
        telemetry.FEATURE_VIEW: "default",
        telemetry.FEATURE_VERSION: trained.feature_version,
    }
    features = by_kind(finished, "GetFeatures")["SERVER"]
    assert view.version == trained.feature_version  # asked for the latest, this one answered
    assert versions(features) == {
        telemetry.FEATURE_VIEW: "default",
        telemetry.FEATURE_VERSION: trained.feature_version,
    }


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_training_runs_in_an_operation_span_under_the_train_call(trained: Trained) -> None:
    finished = trained.training_spans
    submit = by_kind(finished, "TrainModel", SIGNAL)["SERVER"]
    assert versions(submit) == {telemetry.MODEL_NAME: MODEL, telemetry.FEATURE_VIEW: "default"}
    [work] = [s for s in finished if s.name == "operations/signal/train_model"]
    assert work.parent is not None and work.parent.span_id == submit.context.span_id
    assert work.context.trace_id == submit.context.trace_id
    assert work.end_time is not None and submit.end_time is not None
    assert work.end_time > submit.end_time  # the work outlives the call that started it
    assert versions(work) == {
        "quantmesh.operation.name": trained.operation,
        "quantmesh.operation.state": "SUCCEEDED",
        telemetry.MODEL_NAME: MODEL,
        telemetry.MODEL_VERSION: 1,
        telemetry.FEATURE_VIEW: "default",
        telemetry.FEATURE_VERSION: trained.feature_version,
    }
    # The operation's reads from marketdata are calls in the same trace, made from its span.
    reads = by_kind(finished, "GetFeatures")
    assert reads["CLIENT"].parent is not None
    assert reads["CLIENT"].parent.span_id == work.context.span_id
    assert reads["SERVER"].context.trace_id == submit.context.trace_id
