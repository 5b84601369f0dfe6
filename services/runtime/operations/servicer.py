"""The OperationsService: one per server, routing by the service part of operation names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from grpc import aio
from quantmesh.operations.v1 import operations_pb2 as pb
from quantmesh.operations.v1 import operations_pb2_grpc

from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.operations.convert import state_from_pb, to_pb
from services.runtime.operations.manager import OperationManager
from services.runtime.operations.model import parse_operation_name


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    def __init__(self, managers: Mapping[str, OperationManager]) -> None:
        self._managers = dict(managers)

    def _manager(self, service: str) -> OperationManager:
        manager = self._managers.get(service)
        if manager is None:
            hosted = ", ".join(sorted(self._managers)) or "none"
            raise NotFound(
                f"service {service!r} has no operations here (hosted: {hosted})",
                metadata={"service": service},
            )
        return manager

    def _resolve(self, name: str) -> tuple[OperationManager, str]:
        service, operation_id = parse_operation_name(name)
        return self._manager(service), operation_id

    async def GetOperation(
        self, request: pb.GetOperationRequest, context: aio.ServicerContext
    ) -> pb.GetOperationResponse:
        manager, operation_id = self._resolve(request.name)
        return pb.GetOperationResponse(operation=to_pb(manager.get(operation_id)))

    async def ListOperations(
        self, request: pb.ListOperationsRequest, context: aio.ServicerContext
    ) -> pb.ListOperationsResponse:
        if request.service:
            manager = self._manager(request.service)
        elif len(self._managers) == 1:
            manager = next(iter(self._managers.values()))
        else:
            raise InvalidArgument.for_field(
                "service", f"required when a server hosts several ({', '.join(self._managers)})"
            )
        records, token = manager.list(
            request.kind, state_from_pb(request.state), request.page_size, request.page_token
        )
        return pb.ListOperationsResponse(
            operations=[to_pb(r) for r in records], next_page_token=token
        )

    async def CancelOperation(
        self, request: pb.CancelOperationRequest, context: aio.ServicerContext
    ) -> pb.CancelOperationResponse:
        manager, operation_id = self._resolve(request.name)
        return pb.CancelOperationResponse(operation=to_pb(await manager.cancel(operation_id)))

    async def WatchOperation(
        self, request: pb.WatchOperationRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.WatchOperationResponse]:
        manager, operation_id = self._resolve(request.name)
        async for record in manager.watch(operation_id):
            yield pb.WatchOperationResponse(operation=to_pb(record))
