"""Operation records to and from their protobuf form (shared by the servicer and the client)."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from google.protobuf import any_pb2
from google.rpc import code_pb2
from quantmesh.operations.v1 import operations_pb2 as pb

from services.runtime.operations.model import (
    OperationFailure,
    OperationRecord,
    OperationResult,
    OperationState,
)
from services.runtime.time_convert import from_timestamp, optional_from_timestamp, to_timestamp

_STATE_TO_PB: dict[OperationState, pb.State] = {
    state: cast(pb.State, pb.State.Value(f"STATE_{state.value}")) for state in OperationState
}
_STATE_FROM_PB = {v: k for k, v in _STATE_TO_PB.items()}


def state_to_pb(state: OperationState | None) -> pb.State:
    return pb.STATE_UNSPECIFIED if state is None else _STATE_TO_PB[state]


def state_from_pb(value: pb.State) -> OperationState | None:
    return _STATE_FROM_PB.get(value)


def to_pb(record: OperationRecord) -> pb.Operation:
    message = pb.Operation(
        name=record.name,
        service=record.service,
        kind=record.kind,
        state=_STATE_TO_PB[record.state],
        progress=record.progress,
        progress_message=record.progress_message,
        request_id=record.request_id,
        create_time=to_timestamp(record.create_time),
        update_time=to_timestamp(record.update_time),
    )
    if record.end_time is not None:
        message.end_time.CopyFrom(to_timestamp(record.end_time))
    if record.result is not None:
        message.result.CopyFrom(
            any_pb2.Any(type_url=record.result.type_url, value=record.result.value)
        )
    if record.failure is not None:
        message.error.CopyFrom(
            pb.OperationError(
                code=getattr(code_pb2, record.failure.code, code_pb2.UNKNOWN),
                message=record.failure.message,
                reason=record.failure.reason,
                metadata=record.failure.metadata,
            )
        )
    return message


def from_pb(message: pb.Operation) -> OperationRecord:
    service, _, op_id = message.name.removeprefix("operations/").partition("/")
    record = OperationRecord(
        id=op_id,
        service=service,
        kind=message.kind,
        state=_STATE_FROM_PB.get(message.state, OperationState.PENDING),
        create_time=from_timestamp(message.create_time),
        update_time=from_timestamp(message.update_time),
        progress=message.progress,
        progress_message=message.progress_message,
        request_id=message.request_id,
        end_time=optional_from_timestamp(message, "end_time"),
    )
    result = None
    if message.HasField("result"):
        result = OperationResult(message.result.type_url, message.result.value)
    failure = None
    if message.HasField("error"):
        failure = OperationFailure(
            code=code_pb2.Code.Name(message.error.code),
            message=message.error.message,
            reason=message.error.reason,
            metadata=dict(message.error.metadata),
        )
    return replace(record, result=result, failure=failure)
