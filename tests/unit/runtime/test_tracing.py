"""Server spans: one per call, continuing the caller's trace, with the call's outcome.

A real grpc.aio server on a free port with the tracing and error-mapping layers, and raw-bytes
methods of every outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from grpc import aio
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import telemetry
from services.runtime.errors import NotFound, Unavailable
from services.runtime.interceptors import ErrorMappingInterceptor, TracingInterceptor

SERVICE = "test.v1.Traced"


async def echo(request: bytes, context: aio.ServicerContext) -> bytes:
    return request


async def missing(request: bytes, context: aio.ServicerContext) -> bytes:
    raise NotFound("no such thing")


async def down(request: bytes, context: aio.ServicerContext) -> bytes:
    raise Unavailable("backend down")


async def broken(request: bytes, context: aio.ServicerContext) -> bytes:
    raise RuntimeError("bug")


async def count(request: bytes, context: aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(3):
        yield bytes([i])


async def count_then_fail(request: bytes, context: aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"\x00"
    raise Unavailable("lost the source")


HANDLERS = {
    "Echo": grpc.unary_unary_rpc_method_handler(echo),
    "Missing": grpc.unary_unary_rpc_method_handler(missing),
    "Down": grpc.unary_unary_rpc_method_handler(down),
    "Broken": grpc.unary_unary_rpc_method_handler(broken),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "CountThenFail": grpc.unary_stream_rpc_method_handler(count_then_fail),
}


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("quantmesh-test").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest_asyncio.fixture
async def channel(exporter: InMemorySpanExporter) -> AsyncIterator[aio.Channel]:
    server = aio.server(interceptors=[TracingInterceptor(), ErrorMappingInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, HANDLERS)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    exporter.clear()
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(None)


async def server_span(exporter: InMemorySpanExporter, method: str) -> ReadableSpan:
    """The call's one server span, once ended: an aborted call's status reaches the caller
    before the server's layers unwind and end the span."""
    name = f"/{SERVICE}/{method}"
    for _ in range(200):
        spans = [s for s in exporter.get_finished_spans() if s.name == name]
        if spans:
            break
        await asyncio.sleep(0.01)
    [span] = spans
    assert span.kind is trace.SpanKind.SERVER
    return span


async def call(
    channel: aio.Channel, method: str, metadata: tuple[tuple[str, str], ...] = ()
) -> None:
    await channel.unary_unary(f"/{SERVICE}/{method}")(b"x", metadata=metadata)


async def test_a_call_continues_the_callers_trace(
    channel: aio.Channel, exporter: InMemorySpanExporter
) -> None:
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        await call(channel, "Echo", tuple(carrier.items()))
    span = await server_span(exporter, "Echo")
    assert span.context.trace_id == caller.get_span_context().trace_id
    assert span.parent is not None and span.parent.span_id == caller.get_span_context().span_id
    attributes = dict(span.attributes or {})
    assert attributes["rpc.system"] == "grpc"
    assert attributes["rpc.service"] == SERVICE
    assert attributes["rpc.method"] == "Echo"
    assert attributes["rpc.grpc.status_code"] == 0
    assert attributes["net.peer.ip"] == "127.0.0.1"
    assert span.status.status_code is trace.StatusCode.UNSET


async def test_a_call_without_trace_context_starts_a_trace(
    channel: aio.Channel, exporter: InMemorySpanExporter
) -> None:
    await call(channel, "Echo")
    assert (await server_span(exporter, "Echo")).parent is None


async def test_a_callers_fault_is_recorded_without_an_error_status(
    channel: aio.Channel, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(aio.AioRpcError):
        await call(channel, "Missing")
    span = await server_span(exporter, "Missing")
    assert dict(span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert span.status.status_code is trace.StatusCode.UNSET


@pytest.mark.parametrize(
    ("method", "code"),
    [("Down", grpc.StatusCode.UNAVAILABLE), ("Broken", grpc.StatusCode.INTERNAL)],
)
async def test_a_server_fault_marks_the_span_as_an_error(
    channel: aio.Channel, exporter: InMemorySpanExporter, method: str, code: grpc.StatusCode
) -> None:
    with pytest.raises(aio.AioRpcError):
        await call(channel, method)
    span = await server_span(exporter, method)
    assert dict(span.attributes or {})["rpc.grpc.status_code"] == code.value[0]
    assert span.status.status_code is trace.StatusCode.ERROR
    assert (span.status.description or "").startswith(code.name)


async def test_a_stream_is_one_span_that_ends_with_the_stream(
    channel: aio.Channel, exporter: InMemorySpanExporter
) -> None:
    items = [m async for m in channel.unary_stream(f"/{SERVICE}/Count")(b"x")]
    assert items == [b"\x00", b"\x01", b"\x02"]
    done = await server_span(exporter, "Count")
    assert dict(done.attributes or {})["rpc.grpc.status_code"] == 0
    with pytest.raises(aio.AioRpcError):
        async for _ in channel.unary_stream(f"/{SERVICE}/CountThenFail")(b"x"):
            pass
    failed = await server_span(exporter, "CountThenFail")
    assert dict(failed.attributes or {})["rpc.grpc.status_code"] == 14
    assert failed.status.status_code is trace.StatusCode.ERROR
