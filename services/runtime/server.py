"""The one grpc.aio server bootstrap: any number of services on one port.

Adds health (per service and overall, ""), reflection, the shared operations service, the
interceptor chain (tracing, error mapping, access log, auth, stream draining), explicit limits,
TLS, and graceful shutdown: on SIGTERM health turns NOT_SERVING, new calls are refused, in-flight
calls get `shutdown_grace_s`, open streams then end with UNAVAILABLE, and stores are closed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from quantmesh.operations.v1 import operations_pb2, operations_pb2_grpc

from services.runtime.hosting import HostedService
from services.runtime.interceptors import (
    AccessLogInterceptor,
    AuthInterceptor,
    DeadlineInterceptor,
    DrainInterceptor,
    ErrorMappingInterceptor,
    TracingInterceptor,
)
from services.runtime.operations.servicer import OperationsServicer
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings

log = logging.getLogger("quantmesh.server")
OPERATIONS_SERVICE = operations_pb2.DESCRIPTOR.services_by_name["OperationsService"].full_name


def server_options(settings: RuntimeSettings) -> list[tuple[str, int]]:
    ms = 1000
    return [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_connection_age_ms", int(settings.max_connection_age_s * ms)),
        ("grpc.max_connection_age_grace_ms", int(settings.max_connection_age_grace_s * ms)),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * ms)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * ms)),
        # Accept client pings as often as clients are configured to send them.
        ("grpc.http2.min_ping_interval_without_data_ms", int(settings.keepalive_time_s * ms / 2)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.so_reuseport", 0),
    ]


def _server_credentials(settings: RuntimeSettings) -> grpc.ServerCredentials | None:
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("QUANTMESH_TLS_CERT and QUANTMESH_TLS_KEY must be set together")
    pair = (settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())
    client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class MeshServer:
    """Hosts `services` on one port until stopped."""

    def __init__(
        self,
        services: Sequence[HostedService],
        settings: RuntimeSettings,
        peers: Peers | None = None,
    ) -> None:
        if not services:
            raise ValueError("a server needs at least one service")
        self.services = list(services)
        self.settings = settings
        self.peers = peers
        self.port = 0
        self._closing = asyncio.Event()
        self._health = health.aio.HealthServicer()
        self._server: aio.Server | None = None
        self._stopped = asyncio.Event()
        self._stopping = False

    @property
    def full_service_names(self) -> list[str]:
        names = [n for s in self.services for n in s.service_names]
        if any(s.operations is not None for s in self.services):
            names.append(OPERATIONS_SERVICE)
        return names

    def _interceptors(self) -> list[aio.ServerInterceptor]:
        chain: list[aio.ServerInterceptor] = [
            TracingInterceptor(),
            ErrorMappingInterceptor(),
            AccessLogInterceptor(),
        ]
        if self.settings.auth_tokens:
            chain.append(AuthInterceptor(self.settings.team_tokens(), self.settings.team_allow()))
        chain += [DeadlineInterceptor(), DrainInterceptor(self._closing)]
        return chain

    async def start(self) -> int:
        """Start the services, open the port; returns the bound port."""
        settings = self.settings
        server = aio.server(
            interceptors=self._interceptors(),
            options=server_options(settings),
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        for service in self.services:
            await service.start()
            service.register(server)
        managers = {s.name: s.operations for s in self.services if s.operations is not None}
        if managers:
            operations_pb2_grpc.add_OperationsServiceServicer_to_server(
                OperationsServicer(managers), server
            )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = self.full_service_names
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        address = f"{settings.host}:{settings.port}"
        credentials = _server_credentials(settings)
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        if self.peers is not None:
            local_host = (
                "127.0.0.1" if settings.host in ("0.0.0.0", "[::]", "::") else settings.host
            )
            self.peers.bind(f"{local_host}:{port}")
        await server.start()
        for name in [*names, ""]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server, self.port = server, int(port)
        log.info(
            "serving %s on %s:%d", ", ".join(s.name for s in self.services), settings.host, port
        )
        return self.port

    async def stop(self, grace: float | None = None, drain: float | None = None) -> None:
        """NOT_SERVING, drain, refuse new calls, give in-flight ones `grace`, end streams, close
        stores. Concurrent and repeated calls wait for the first one."""
        if self._server is None or self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        grace = self.settings.shutdown_grace_s if grace is None else grace
        drain = self.settings.shutdown_drain_s if drain is None else drain
        log.info("shutting down: health NOT_SERVING, %.1fs drain, %.1fs grace", drain, grace)
        await self._health.enter_graceful_shutdown()
        if drain > 0:
            await asyncio.sleep(drain)

        async def close_streams_after_grace() -> None:
            await asyncio.sleep(grace)
            self._closing.set()

        closer = asyncio.create_task(close_streams_after_grace())
        # Streams ended at `grace` still need a moment to send their status.
        await self._server.stop(grace + 1.0)
        closer.cancel()
        for service in reversed(self.services):
            try:
                await service.close()
            except Exception:
                log.exception("closing %s failed", service.name)
        self._stopped.set()
        log.info("stopped")

    async def wait(self) -> None:
        await self._stopped.wait()

    def stop_on_signals(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT (what Kubernetes and Ctrl-C send)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))
