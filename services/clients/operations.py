"""Typed async client of the OperationsService hosted next to each service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from quantmesh.operations.v1 import operations_pb2 as pb
from quantmesh.operations.v1 import operations_pb2_grpc

from services.clients.base import ServiceClient
from services.runtime.operations.convert import from_pb, state_to_pb
from services.runtime.operations.model import OperationRecord, OperationState


class OperationsClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = operations_pb2_grpc.OperationsServiceStub(channel)

    async def get(self, name: str, *, timeout: float | None = None) -> OperationRecord:
        response = await self._unary(
            self._stub.GetOperation, pb.GetOperationRequest(name=name), timeout
        )
        return from_pb(response.operation)

    async def list(
        self,
        service: str = "",
        kind: str = "",
        state: OperationState | None = None,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> tuple[list[OperationRecord], str]:
        request = pb.ListOperationsRequest(
            service=service,
            kind=kind,
            state=state_to_pb(state),
            page_size=page_size,
            page_token=page_token,
        )
        response = await self._unary(self._stub.ListOperations, request, timeout)
        return [from_pb(o) for o in response.operations], response.next_page_token

    async def cancel(self, name: str, *, timeout: float | None = None) -> OperationRecord:
        response = await self._unary(
            self._stub.CancelOperation, pb.CancelOperationRequest(name=name), timeout
        )
        return from_pb(response.operation)

    async def watch(
        self, name: str, *, timeout: float | None = 0
    ) -> AsyncIterator[OperationRecord]:
        """The current state, then each change, until a terminal state (no deadline by default)."""
        request = pb.WatchOperationRequest(name=name)
        async for message in self._stream(self._stub.WatchOperation, request, timeout):
            yield from_pb(message.operation)

    async def wait(self, name: str, *, timeout: float | None = 0) -> OperationRecord:
        """Block until the operation finishes; returns its final record."""
        final: OperationRecord | None = None
        # Read the stream to its end (the server ends it after the terminal state), so the call
        # and its client span finish now rather than whenever the abandoned stream is collected.
        async for record in self.watch(name, timeout=timeout):
            if record.state.terminal:
                final = record
        return final if final is not None else await self.get(name)
