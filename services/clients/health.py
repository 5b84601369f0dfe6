"""Health of the services behind an address (grpc.health.v1), for `quantmesh status` and probes."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.clients.base import ServiceClient


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    status: str  # SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNREACHABLE
    detail: str = ""


class HealthClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = health_pb2_grpc.HealthStub(channel)

    async def check(self, service: str = "", *, timeout: float | None = 3.0) -> ServiceHealth:
        """One service's status ("" is the server overall); UNREACHABLE when no answer."""
        try:
            response = await self._stub.Check(
                health_pb2.HealthCheckRequest(service=service), **self._options(timeout)
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
                return ServiceHealth(service, "SERVICE_UNKNOWN")
            return ServiceHealth(service, "UNREACHABLE", exc.details() or "")  # type: ignore[attr-defined]
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        return ServiceHealth(service, name)
