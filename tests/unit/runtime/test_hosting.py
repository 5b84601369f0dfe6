"""Registering a generated servicer with chosen response serializers."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from quantmesh.marketdata.v1 import marketdata_pb2 as pb
from quantmesh.marketdata.v1 import marketdata_pb2_grpc

from services.runtime.hosting import add_servicer

SERVICE = "quantmesh.marketdata.v1.MarketDataService"


class RecordingServer:
    """What add_servicer hands the real server: the generic and the registered handlers."""

    def __init__(self) -> None:
        self.generic: list[Any] = []
        self.registered: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.registered[service] = handlers


def _serialize_as_marker(item: Any) -> bytes:
    return b"marker"


def test_named_methods_get_the_given_serializer_and_the_others_keep_protobufs() -> None:
    server = RecordingServer()
    add_servicer(
        server,  # type: ignore[arg-type]
        marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server,
        marketdata_pb2_grpc.MarketDataServiceServicer(),
        {"GetBars": _serialize_as_marker},
    )
    handlers = server.registered[SERVICE]
    assert handlers["GetBars"].response_serializer is _serialize_as_marker
    assert handlers["ListSymbols"].response_serializer is not _serialize_as_marker
    assert handlers["ListSymbols"].response_serializer(pb.ListSymbolsResponse()) == b""
    # The generic handler (what the server looks methods up in) serves the same handlers.
    [generic] = server.generic
    details = type("Details", (), {"method": f"/{SERVICE}/GetBars"})()
    assert generic.service(details).response_serializer is _serialize_as_marker


def test_an_unknown_method_name_is_refused() -> None:
    with pytest.raises(ValueError, match="GetBarz"):
        add_servicer(
            RecordingServer(),  # type: ignore[arg-type]
            marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server,
            marketdata_pb2_grpc.MarketDataServiceServicer(),
            {"GetBarz": _serialize_as_marker},
        )
