"""The one mapping between domain exceptions and gRPC statuses, used by servers and clients.

Servers turn a QuantmeshError into a status code plus a `google.rpc.Status` (in the
`grpc-status-details-bin` trailer) carrying ErrorInfo (reason, domain, metadata) and BadRequest
field violations. Clients turn such a status back into the same exception class.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.runtime.errors import (
    ERROR_CLASSES,
    ERROR_DOMAIN,
    FieldViolation,
    Internal,
    QuantmeshError,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"
_CLASS_BY_CODE: dict[grpc.StatusCode, type[QuantmeshError]] = {
    grpc.StatusCode[cls.code]: cls for cls in ERROR_CLASSES if cls is not Internal
}


def status_code(error: QuantmeshError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


#: Limits that keep an error's status and trailing metadata well under gRPC's default 8 KiB
#: metadata limit (beyond it the client sees "Stream removed" instead of the error).
MAX_MESSAGE_CHARS = 1_000
MAX_VALUE_CHARS = 200
MAX_ITEMS = 20


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 24  # room for the note, whatever the count's digits
    return f"{text[:keep]}… (+{len(text) - keep} chars)"


def bounded(error: QuantmeshError) -> QuantmeshError:
    """`error` with its message, metadata and violations cut to sizes a status can carry."""
    metadata = dict(list(error.metadata.items())[:MAX_ITEMS])
    violations = error.violations[:MAX_ITEMS]
    if (
        len(error.message) <= MAX_MESSAGE_CHARS
        and metadata == error.metadata
        and violations == error.violations
        and all(len(v) <= MAX_VALUE_CHARS for v in metadata.values())
        and all(len(v.description) <= MAX_VALUE_CHARS for v in violations)
    ):
        return error
    clipped = type(error)(
        _clip(error.message, MAX_MESSAGE_CHARS),
        reason=error.reason,
        metadata={k: _clip(v, MAX_VALUE_CHARS) for k, v in metadata.items()},
        violations=[
            FieldViolation(_clip(v.field, MAX_VALUE_CHARS), _clip(v.description, MAX_VALUE_CHARS))
            for v in violations
        ],
    )
    return clipped


def to_status_proto(error: QuantmeshError) -> status_pb2.Status:
    """google.rpc.Status for `error`, with ErrorInfo and (when there are any) BadRequest."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    details = [info]
    if error.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(
        code=getattr(code_pb2, error.code), message=error.message, details=packed
    )


def trailing_metadata(error: QuantmeshError) -> tuple[tuple[str, bytes], ...]:
    return ((STATUS_DETAILS_KEY, to_status_proto(error).SerializeToString()),)


def from_rpc_error(exc: grpc.RpcError) -> QuantmeshError:
    """The domain exception for a failed call, with reason, metadata and violations restored."""
    code: grpc.StatusCode = exc.code()  # type: ignore[attr-defined]
    message: str = exc.details() or code.name  # type: ignore[attr-defined]
    reason: str | None = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    for key, value in exc.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Unpack(bad):
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    cls = _CLASS_BY_CODE.get(code, Internal)
    error = cls(message, reason=reason, metadata=metadata, violations=violations)
    if cls is Internal:
        error.metadata.setdefault("grpc_code", code.name)
    return error
