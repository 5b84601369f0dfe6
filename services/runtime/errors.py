"""Domain exceptions shared by every service and client.

Domain code raises these (it imports no gRPC); the server's error interceptor maps each to its
gRPC status code with a `google.rpc.Status` carrying ErrorInfo and BadRequest details, and the
typed clients map the status back to the same class. The mapping lives in `status_codes.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ERROR_DOMAIN = "quantmesh.dev"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str


class QuantmeshError(Exception):
    """Base of all domain errors. `code` is the gRPC status code name it maps to."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = {k: str(v) for k, v in (metadata or {}).items()}
        self.violations: tuple[FieldViolation, ...] = tuple(violations)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r})"


class InvalidArgument(QuantmeshError):
    """The request is malformed; retrying it unchanged fails again."""

    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"

    @classmethod
    def for_field(cls, field: str, description: str, **kwargs: object) -> InvalidArgument:
        """An error about one field, with the field named in the BadRequest details."""
        metadata = {k: str(v) for k, v in kwargs.items()}
        return cls(
            f"{field}: {description}",
            metadata=metadata,
            violations=[FieldViolation(field, description)],
        )


class NotFound(QuantmeshError):
    code = "NOT_FOUND"
    default_reason = "RESOURCE_NOT_FOUND"


class AlreadyExists(QuantmeshError):
    code = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(QuantmeshError):
    """The target is in a state that must change before the call can succeed."""

    code = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class OutOfRange(QuantmeshError):
    """A requested time or position lies outside the stored data."""

    code = "OUT_OF_RANGE"
    default_reason = "TIME_OUT_OF_RANGE"


class ResourceExhausted(QuantmeshError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "TOO_LARGE"


class Unauthenticated(QuantmeshError):
    code = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(QuantmeshError):
    code = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class Unavailable(QuantmeshError):
    """A retryable fault: a dependency is down or the server is draining."""

    code = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"


class Cancelled(QuantmeshError):
    code = "CANCELLED"
    default_reason = "CANCELLED"


class DeadlineExceeded(QuantmeshError):
    code = "DEADLINE_EXCEEDED"
    default_reason = "UNAVAILABLE"


class Internal(QuantmeshError):
    """An unexpected fault. The message never carries a stack trace."""


ERROR_CLASSES: tuple[type[QuantmeshError], ...] = (
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    OutOfRange,
    ResourceExhausted,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Cancelled,
    DeadlineExceeded,
    Internal,
)
