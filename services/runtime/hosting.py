"""What a service hands the server bootstrap: its servicers, lifecycle and operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

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
