"""Tracing and logging: one trace from client to server, health untraced, trace ids in logs."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import telemetry
from services.runtime.errors import NotFound
from tests.conftest import Served

MARKETDATA = "quantmesh.marketdata.v1.MarketDataService"


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


def by_kind(spans: tuple[ReadableSpan, ...], method: str) -> dict[str, ReadableSpan]:
    return {s.kind.name: s for s in spans if s.name == f"/{MARKETDATA}/{method}"}


async def test_a_call_is_one_trace_from_client_to_server(
    served: Served, spans: InMemorySpanExporter
) -> None:
    await served.mesh.marketdata.list_symbols()
    pair = by_kind(spans.get_finished_spans(), "ListSymbols")
    client, server = pair["CLIENT"], pair["SERVER"]
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None
    assert server.parent.span_id == client.context.span_id
    assert server.attributes["rpc.service"] == MARKETDATA
    assert server.attributes["rpc.method"] == "ListSymbols"
    assert server.resource.attributes["service.name"] == "quantmesh-test"


async def test_failed_calls_record_their_status_code(
    served: Served, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(NotFound):
        await served.mesh.marketdata.get_bars(["NOPE"])
    server = by_kind(spans.get_finished_spans(), "GetBars")["SERVER"]
    assert server.attributes["rpc.grpc.status_code"] == 5  # NOT_FOUND


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
