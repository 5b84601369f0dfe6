"""One mapping between domain errors and gRPC statuses, in both directions."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from services.runtime import errors
from services.runtime.status_codes import from_rpc_error, status_code, trailing_metadata


class FakeRpcError(grpc.RpcError):
    """What a failed call raises on the client side: code, details, trailers."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: Any = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers


@pytest.mark.parametrize("cls", [c for c in errors.ERROR_CLASSES if c is not errors.Internal])
def test_every_domain_error_survives_the_round_trip(cls: type[errors.QuantmeshError]) -> None:
    sent = cls(
        "something about it",
        reason="SOME_REASON",
        metadata={"symbol": "AAPL"},
        violations=[errors.FieldViolation("rows[3].high", "below low")],
    )
    received = from_rpc_error(
        FakeRpcError(status_code(sent), sent.message, trailing_metadata(sent))
    )
    assert type(received) is cls
    assert (received.message, received.reason, received.metadata, received.violations) == (
        sent.message,
        sent.reason,
        sent.metadata,
        sent.violations,
    )


def test_statuses_without_details_still_map_by_code() -> None:
    received = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused"))
    assert isinstance(received, errors.Unavailable)
    assert received.reason == "UNAVAILABLE"


def test_codes_the_mesh_never_sends_become_internal_with_the_code_kept() -> None:
    received = from_rpc_error(FakeRpcError(grpc.StatusCode.UNKNOWN, "boom"))
    assert isinstance(received, errors.Internal)
    assert received.metadata["grpc_code"] == "UNKNOWN"


def test_field_errors_name_the_field() -> None:
    error = errors.InvalidArgument.for_field("page_size", "must be >= 0")
    assert error.message == "page_size: must be >= 0"
    assert error.violations == (errors.FieldViolation("page_size", "must be >= 0"),)


def test_huge_errors_are_cut_to_fit_in_trailing_metadata() -> None:
    from services.runtime.errors import InvalidArgument
    from services.runtime.status_codes import bounded, trailing_metadata

    huge = InvalidArgument(
        "symbols " + ", ".join(f"SYN{i:04d}" for i in range(2000)),
        metadata={"symbol": ",".join(f"SYN{i:04d}" for i in range(2000))},
    )
    cut = bounded(huge)
    assert type(cut) is InvalidArgument and cut.reason == huge.reason
    assert cut.message.startswith("symbols SYN0000, SYN0001") and len(cut.message) <= 1000
    size = sum(len(key) + len(value) for key, value in trailing_metadata(cut))
    assert len(cut.message) + size < 8192 // 2
