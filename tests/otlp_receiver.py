"""A real OTLP/gRPC trace receiver for tests and benchmarks: what a collector would get.

`OtlpReceiver` serves `opentelemetry.proto.collector.trace.v1.TraceService/Export` (the OTLP
exporter's wire protocol, from the `opentelemetry-proto` package) on a free localhost port, in a
gRPC server with its own threads, so it works beside any event loop and receives spans from
other processes. Point them at it with `OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint`.

    with OtlpReceiver() as receiver:
        ...  # processes export to receiver.endpoint
        spans = receiver.wait_for(lambda spans: any(s.name == "/x.v1.X/Get" for s in spans))

`keep=False` only counts spans (for benchmarks, where keeping millions would cost memory).
`python -m tests.otlp_receiver --port N` runs one as its own process (benchmarks, so receiving
does not compete with the load generator for the GIL); it prints `listening <port>` once ready
and `{"requests": n, "spans": n}` on stdout when it gets SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from services.runtime.ports import free_port

_KINDS = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUS = {
    trace_pb2.Status.STATUS_CODE_UNSET: "UNSET",
    trace_pb2.Status.STATUS_CODE_OK: "OK",
    trace_pb2.Status.STATUS_CODE_ERROR: "ERROR",
}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, ids as lower-case hex (`parent_span_id` is "" for a root span)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service_name: str
    attributes: Mapping[str, Any]
    status_code: str
    status_message: str
    start_ns: int
    end_ns: int
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rpc(self) -> str:
        """`service/method` from the rpc.* attributes ("" when the span is not an RPC)."""
        service, method = self.attributes.get("rpc.service"), self.attributes.get("rpc.method")
        return f"{service}/{method}" if service and method else ""


def any_value(value: common_pb2.AnyValue) -> Any:
    """An OTLP AnyValue as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    return getattr(value, kind)


def key_values(items: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {item.key: any_value(item.value) for item in items}


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[ReceivedSpan]:
    """Every span of one Export request, with its resource's service.name."""
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    name=span.name,
                    kind=_KINDS.get(span.kind, str(span.kind)),
                    service_name=service,
                    attributes=key_values(span.attributes),
                    status_code=_STATUS.get(span.status.code, str(span.status.code)),
                    status_message=span.status.message,
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    resource=resource,
                )


def span_count(request: trace_service_pb2.ExportTraceServiceRequest) -> int:
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802 (the OTLP method name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """An OTLP/gRPC TraceService on `host:port` (a free port by default) that keeps what it gets."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keep: bool = True) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.keep = keep
        self.requests = 0
        self.span_count = 0
        self._spans: list[ReceivedSpan] = []
        self._changed = threading.Condition()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        """What `OTEL_EXPORTER_OTLP_ENDPOINT` should hold (plain text: the http scheme)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> OtlpReceiver:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-receiver"),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(self), server
        )
        if server.add_insecure_port(f"{self.host}:{self.port}") == 0:
            raise OSError(f"the OTLP receiver cannot listen on {self.host}:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=1.0).wait()
            self._server = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        """Record one Export request (called from the server's threads)."""
        received = list(spans_of(request)) if self.keep else []
        count = len(received) if self.keep else span_count(request)
        with self._changed:
            self.requests += 1
            self.span_count += count
            self._spans.extend(received)
            self._changed.notify_all()

    def spans(self) -> list[ReceivedSpan]:
        """The spans received so far, in arrival order."""
        with self._changed:
            return list(self._spans)

    def clear(self) -> None:
        with self._changed:
            self._spans.clear()
            self.requests = self.span_count = 0

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans() if s.trace_id == trace_id]

    def wait_for(
        self, done: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """Block until `done(spans)` holds (checked on every arrival); the spans then.

        Raises TimeoutError with a summary of what did arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(list(self._spans)):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({f"{s.service_name} {s.kind} {s.name}" for s in self._spans})
                    raise TimeoutError(
                        f"spans did not arrive within {timeout:.0f}s; got {len(self._spans)}: "
                        + "; ".join(seen)
                    )
                self._changed.wait(left)
            return list(self._spans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An OTLP/gRPC trace receiver that counts spans.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with OtlpReceiver(args.host, args.port, keep=False) as receiver:
        print(f"listening {receiver.port}", flush=True)
        stop.wait()
    print(json.dumps({"requests": receiver.requests, "spans": receiver.span_count}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
