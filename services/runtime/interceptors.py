"""Server interceptors: tracing, error mapping, team authentication, access logging, deadlines,
stream draining.

Each interceptor wraps the method's behaviour through `BehaviourInterceptor`, which handles the
four gRPC call shapes once; subclasses implement `around_unary` and `around_stream`.

Tracing is a layer of our own over `telemetry.start_server_span` rather than OpenTelemetry's aio
server interceptor: that one re-reads and re-filters the call's metadata through typing
protocols and wraps the servicer context on every call, which made it a fifth of the server's
CPU time per small unary call (docs/benchmarks.md, signal serving). The spans are the same.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from grpc import aio

from services.runtime import status_codes
from services.runtime.deadlines import deadline_scope
from services.runtime.errors import (
    Internal,
    PermissionDenied,
    QuantmeshError,
    Unauthenticated,
    Unavailable,
)
from services.runtime.telemetry import (
    ServerSpan,
    current_trace_id,
    end_server_span,
    start_server_span,
)

log = logging.getLogger("quantmesh.rpc")

UnaryBehaviour = Callable[[Any, aio.ServicerContext], Awaitable[Any]]
StreamBehaviour = Callable[[Any, aio.ServicerContext], AsyncIterator[Any]]
OPEN_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


def service_of(method: str) -> str:
    """The service part of a full method name: '/pkg.Service/Method' -> 'pkg.Service'."""
    return method.lstrip("/").split("/", 1)[0]


def is_open_method(method: str) -> bool:
    return service_of(method) in OPEN_SERVICES


class BehaviourInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    """Base: wraps every handler's behaviour with `around_unary` / `around_stream`."""

    #: Whether unary-response calls are wrapped too (a layer costs every call a little).
    wraps_unary = True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not self.applies_to(details.method):
            return handler
        if not handler.response_streaming and not self.wraps_unary:
            return handler
        method = details.method
        metadata = dict(details.invocation_metadata or ())
        if handler.response_streaming:
            inner = handler.unary_stream or handler.stream_stream

            # grpc.aio serves a streaming behaviour as async only when it is an async
            # generator function (a partial of one counts); anything else goes to its thread
            # pool as a sync generator. The partial adds no layer to each streamed item.
            stream = functools.partial(
                type(self).around_stream, self, inner, method=method, metadata=metadata
            )
            factory = (
                grpc.unary_stream_rpc_method_handler
                if handler.unary_stream
                else grpc.stream_stream_rpc_method_handler
            )
            return factory(stream, handler.request_deserializer, handler.response_serializer)
        inner_unary = handler.unary_unary or handler.stream_unary

        async def unary(request: Any, context: aio.ServicerContext) -> Any:
            return await self.around_unary(inner_unary, request, context, method, metadata)

        factory = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary
            else grpc.stream_unary_rpc_method_handler
        )
        return factory(unary, handler.request_deserializer, handler.response_serializer)

    def applies_to(self, method: str) -> bool:
        return True

    async def around_unary(
        self,
        behaviour: UnaryBehaviour,
        request: Any,
        context: aio.ServicerContext,
        method: str,
        metadata: dict[str, Any],
    ) -> Any:
        return await behaviour(request, context)

    async def around_stream(
        self,
        behaviour: StreamBehaviour,
        request: Any,
        context: aio.ServicerContext,
        method: str,
        metadata: dict[str, Any],
    ) -> AsyncIterator[Any]:
        async for item in behaviour(request, context):
            yield item


class TracingInterceptor(BehaviourInterceptor):
    """Runs each call (health checks aside) in a SERVER span continuing the caller's trace."""

    def applies_to(self, method: str) -> bool:
        return service_of(method) != "grpc.health.v1.Health"

    async def around_unary(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        opened = start_server_span(method, metadata, context.peer())
        try:
            return await behaviour(request, context)
        finally:
            _end_span(opened, context)

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        opened = start_server_span(method, metadata, context.peer())
        try:
            async for item in behaviour(request, context):
                yield item
        finally:
            _end_span(opened, context)


def _end_span(opened: ServerSpan, context: aio.ServicerContext) -> None:
    code = context.code()
    if code is None or code == grpc.StatusCode.OK:
        end_server_span(opened, 0, "OK", "")
        return
    end_server_span(opened, code.value[0], code.name, context.details() or "")


class ErrorMappingInterceptor(BehaviourInterceptor):
    """QuantmeshError -> its status code with rich details; anything else -> INTERNAL + trace id."""

    async def around_unary(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        try:
            return await behaviour(request, context)
        except Exception as exc:
            await self._abort(exc, context, method)

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        try:
            async for item in behaviour(request, context):
                yield item
        except Exception as exc:
            await self._abort(exc, context, method)

    @staticmethod
    async def _abort(exc: Exception, context: aio.ServicerContext, method: str) -> None:
        if isinstance(exc, (aio.AbortError, asyncio.CancelledError)):
            raise exc
        if not isinstance(exc, QuantmeshError) and isinstance(
            exc.__context__, asyncio.CancelledError
        ):
            # The client went away while a stream's generators were being unwound: nobody is
            # left to tell, and it is not a server fault.
            raise asyncio.CancelledError from exc
        if not isinstance(exc, QuantmeshError):
            trace_id = current_trace_id()
            log.exception("unhandled error in %s (trace %s)", method, trace_id)
            exc = Internal(
                f"internal error while handling {method}; trace id {trace_id}",
                metadata={"trace_id": trace_id},
            )
        exc = status_codes.bounded(exc)
        await context.abort(
            status_codes.status_code(exc),
            exc.message,
            trailing_metadata=status_codes.trailing_metadata(exc),
        )


class DeadlineInterceptor(BehaviourInterceptor):
    """Makes the call's deadline the cap of every downstream call made while serving it."""

    async def around_unary(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        with deadline_scope(context.time_remaining()):
            return await behaviour(request, context)

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        with deadline_scope(context.time_remaining()):
            async for item in behaviour(request, context):
                yield item


class AuthInterceptor(BehaviourInterceptor):
    """Bearer tokens per team; health and reflection stay open.

    No or unknown token -> UNAUTHENTICATED; a team not allowed to call the service ->
    PERMISSION_DENIED.
    """

    def __init__(self, tokens: dict[str, str], allow: dict[str, frozenset[str]]) -> None:
        self._tokens = tokens
        self._allow = allow

    def applies_to(self, method: str) -> bool:
        return not is_open_method(method)

    def check(self, method: str, metadata: dict[str, Any]) -> str:
        header = str(metadata.get("authorization", ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("missing bearer token: send 'authorization: Bearer <token>'")
        team = self._tokens.get(token.strip())
        if team is None:
            raise Unauthenticated("unknown bearer token")
        allowed = self._allow.get(team)
        service = service_of(method)
        short = service.split(".")[1] if service.startswith("quantmesh.") else service
        if allowed is not None and "*" not in allowed and short not in allowed:
            raise PermissionDenied(
                f"team {team!r} may not call {short}", metadata={"team": team, "service": short}
            )
        return team

    async def around_unary(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        self.check(method, metadata)
        return await behaviour(request, context)

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        self.check(method, metadata)
        async for item in behaviour(request, context):
            yield item


class AccessLogInterceptor(BehaviourInterceptor):
    """One structured log line per call: method, outcome, duration, trace id."""

    def applies_to(self, method: str) -> bool:
        return not is_open_method(method)

    async def around_unary(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        with _access_logged(method):
            return await behaviour(request, context)

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        with _access_logged(method):
            async for item in behaviour(request, context):
                yield item


@contextmanager
def _access_logged(method: str) -> Iterator[None]:
    start = time.perf_counter()
    outcome = "OK"
    try:
        yield
    except QuantmeshError as exc:
        outcome = exc.code
        raise
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        elapsed_ms = (time.perf_counter() - start) * 1000
        log.info(
            "rpc %s %s %.1fms",
            method,
            outcome,
            elapsed_ms,
            extra={"rpc_method": method, "rpc_outcome": outcome, "duration_ms": elapsed_ms},
        )


class DrainInterceptor(BehaviourInterceptor):
    """Ends open response streams with UNAVAILABLE once the server's grace period is over.

    Clients read UNAVAILABLE as "reconnect (to another instance) and resume".
    """

    wraps_unary = False

    def __init__(self, closing: asyncio.Event) -> None:
        self._closing = closing

    async def around_stream(self, behaviour, request, context, method, metadata):  # type: ignore[no-untyped-def]
        iterator = behaviour(request, context).__aiter__()
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while True:
                step = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({step, closing}, return_when=asyncio.FIRST_COMPLETED)
                if step not in done:
                    step.cancel()
                    # Let the cancellation finish so the generator is no longer running.
                    await asyncio.gather(step, return_exceptions=True)
                    raise Unavailable(
                        "server is shutting down; reconnect and resume the stream",
                        reason="UNAVAILABLE",
                    )
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            closing.cancel()
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
