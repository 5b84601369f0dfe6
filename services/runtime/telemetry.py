"""OpenTelemetry and logging, set up in one place for every process.

Tracer provider with the service name, parent-based ratio sampling, W3C trace context (the
OpenTelemetry default propagator), OTLP/gRPC export when an endpoint is configured, and gRPC aio
instrumentation that leaves health checks untraced: OpenTelemetry's client interceptors, and
`server_span`, the span a server call runs in (the server interceptor that opens it is one layer
of the runtime's interceptor; see interceptors.py for why it is not OpenTelemetry's). `annotate`
puts domain facts (the model and feature versions a call used) on the current span.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, filters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

_provider: TracerProvider | None = None

#: Span attributes of the versions a call used (spans carry the model or feature version
#: where one applies).
MODEL_NAME = "quantmesh.model.name"
MODEL_VERSION = "quantmesh.model.version"
FEATURE_VIEW = "quantmesh.feature.view"
FEATURE_VERSION = "quantmesh.feature.version"


def setup_tracing(
    service_name: str,
    otlp_endpoint: str = "",
    sample_ratio: float = 1.0,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider:
    """Install the global tracer provider once per process; later calls return the same one."""
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def _traced() -> Any:
    return filters.negate(filters.health_check())


#: Spans of the RPC semantic conventions; a server span's status is ERROR only for these codes
#: (the others are the caller's fault, not the server's).
_SERVER_ERROR_CODES = frozenset({"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL",
                                 "UNAVAILABLE", "DATA_LOSS"})  # fmt: skip
_tracer = trace.get_tracer("quantmesh.rpc")


@contextmanager
def server_span(full_method: str, metadata: Mapping[str, Any], peer: str) -> Iterator[trace.Span]:
    """The SERVER span of one call to `full_method` ('/pkg.Service/Method'), current while the
    call runs, child of the caller's span when `metadata` carries W3C trace context.

    Attributes as OpenTelemetry's gRPC instrumentation sets them (rpc.system, rpc.service,
    rpc.method, the peer); `end_server_span` adds the outcome.
    """
    service, _, method = full_method.lstrip("/").partition("/")
    attributes: dict[str, str | int] = {
        "rpc.system": "grpc",
        "rpc.service": service,
        "rpc.method": method,
        "rpc.grpc.status_code": 0,
    }
    kind, _, address = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        ip, _, port = address.split(",", 1)[0].rpartition(":")
        attributes["net.peer.ip"] = ip
        attributes["net.peer.port"] = port
    with _tracer.start_as_current_span(
        full_method,
        context=propagate.extract(metadata),
        kind=trace.SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def end_server_span(span: trace.Span, code: int, code_name: str, details: str) -> None:
    """Record a call's status code on its server span (ERROR status for server faults)."""
    if not span.is_recording() or code == 0:
        return
    span.set_attribute("rpc.grpc.status_code", code)
    if code_name in _SERVER_ERROR_CODES:
        span.set_status(trace.StatusCode.ERROR, f"{code_name}: {details}")


def client_interceptors() -> list[Any]:
    """OpenTelemetry client interceptors that inject W3C trace context into every call."""
    return list(aio_client_interceptors(filter_=_traced()))


def annotate(attributes: Mapping[str, str | int | float | bool | None]) -> None:
    """Set `attributes` (those not None) on the current span; nothing when it is not recording."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        record.span_id = format(context.span_id, "016x") if context.is_valid else ""
        return True


class _JsonFormatter(logging.Formatter):
    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Root logging to stderr with trace and span ids on every record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(trace_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
