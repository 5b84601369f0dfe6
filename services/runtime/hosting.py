"""What a service hands the server bootstrap: its servicers, lifecycle and operations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from grpc import aio

if TYPE_CHECKING:
    from services.runtime.operations.manager import OperationManager


class HostedService(Protocol):
    """A service the bootstrap can host next to others on one port."""

    #: Short name, e.g. "marketdata"; used in settings, operation names and `up --service`.
    name: str
    #: Full protobuf service names it registers, for health and reflection.
    service_names: tuple[str, ...]

    def register(self, server: aio.Server) -> None:
        """Add the servicers to `server`."""

    async def start(self) -> None:
        """Open stores and start background work; called before the port opens."""

    async def close(self) -> None:
        """Stop background work and close stores; called after the server stopped."""

    @property
    def operations(self) -> OperationManager | None:
        """The service's long-running operations, when it has any."""


def add_servicer(
    server: aio.Server,
    add_to_server: Callable[[Any, Any], None],
    servicer: object,
    response_serializers: Mapping[str, Callable[[Any], bytes]],
) -> None:
    """Register `servicer` with its generated `add_...Servicer_to_server`, replacing the
    response serializer of the methods named in `response_serializers` (see frame_wire)."""
    registered: list[str] = []

    class _Registrar:
        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            """Ignored: the handlers are rebuilt from the registered ones below."""

        def add_registered_method_handlers(
            self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
        ) -> None:
            unknown = set(response_serializers) - set(handlers)
            if unknown:
                raise ValueError(f"{service} has no method(s) {sorted(unknown)}")
            replaced = {
                name: handler._replace(response_serializer=response_serializers[name])  # type: ignore[attr-defined]
                if name in response_serializers
                else handler
                for name, handler in handlers.items()
            }
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, replaced),)
            )
            server.add_registered_method_handlers(service, replaced)
            registered.append(service)

    add_to_server(servicer, _Registrar())
    if not registered:
        raise RuntimeError("the generated code registered no method handlers")
