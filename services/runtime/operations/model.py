"""The operation record: one long-running job's state, progress and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.runtime.errors import InvalidArgument


class OperationState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED)


@dataclass(frozen=True)
class OperationFailure:
    """Why an operation failed: a status code name, message, reason and metadata."""

    code: str
    message: str
    reason: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OperationResult:
    """A protobuf result, stored packed: its type URL and serialized bytes."""

    type_url: str
    value: bytes


@dataclass(frozen=True)
class OperationRecord:
    id: str
    service: str
    kind: str
    state: OperationState
    create_time: datetime
    update_time: datetime
    progress: float = 0.0
    progress_message: str = ""
    request_id: str = ""
    fingerprint: str = ""
    end_time: datetime | None = None
    result: OperationResult | None = None
    failure: OperationFailure | None = None

    @property
    def name(self) -> str:
        return operation_name(self.service, self.id)


def operation_name(service: str, operation_id: str) -> str:
    return f"operations/{service}/{operation_id}"


def parse_operation_name(name: str) -> tuple[str, str]:
    """(service, id) from "operations/{service}/{id}"."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "operations" or not parts[1] or not parts[2]:
        raise InvalidArgument.for_field("name", f"{name!r} is not 'operations/{{service}}/{{id}}'")
    return parts[1], parts[2]
