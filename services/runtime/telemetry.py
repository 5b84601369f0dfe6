"""OpenTelemetry and logging, set up in one place for every process.

Tracer provider with the service name, parent-based ratio sampling, W3C trace context (the
OpenTelemetry default propagator), OTLP/gRPC export when an endpoint is configured, and gRPC aio
instrumentation that leaves health checks untraced: OpenTelemetry's client interceptors, and
`start_server_span`/`end_server_span`, the span a server call runs in (opened by a layer of the
runtime's interceptors; interceptors.py says why it is not OpenTelemetry's). `annotate` puts
domain facts (the model and feature versions a call used) on the current span.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
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
_server_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


def _tracer_for_servers() -> trace.Tracer:
    """The current provider's tracer, looked up again only when the provider changes."""
    global _server_tracer
    provider = trace.get_tracer_provider()
    if _server_tracer is None or _server_tracer[0] is not provider:
        _server_tracer = (provider, provider.get_tracer("quantmesh.rpc"))
    return _server_tracer[1]


@dataclass
class ServerSpan:
    """A server call's span while it is the current one (see `start_server_span`)."""

    span: trace.Span
    token: Token[otel_context.Context]


def start_server_span(full_method: str, metadata: Mapping[str, Any], peer: str) -> ServerSpan:
    """Open the SERVER span of one call to `full_method` ('/pkg.Service/Method') and make it
    current, as a child of the caller's span when `metadata` carries W3C trace context.

    Attributes as OpenTelemetry's gRPC instrumentation sets them (rpc.system, rpc.service,
    rpc.method, the peer); `end_server_span` adds the outcome and closes it. (Not a context
    manager: per call, that machinery cost as much as the span itself.)
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
    parent = propagate.extract(metadata)
    span = _tracer_for_servers().start_span(
        full_method,
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    )
    return ServerSpan(span, otel_context.attach(trace.set_span_in_context(span, parent)))


def end_server_span(opened: ServerSpan, code: int, code_name: str, details: str) -> None:
    """Record a call's status code on its server span (ERROR status for server faults), make
    the caller's context current again, and end the span."""
    span = opened.span
    if code != 0 and span.is_recording():
        span.set_attribute("rpc.grpc.status_code", code)
        if code_name in _SERVER_ERROR_CODES:
            span.set_status(trace.StatusCode.ERROR, f"{code_name}: {details}")
    otel_context.detach(opened.token)
    span.end()


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
