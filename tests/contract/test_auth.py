"""Bearer-token authentication per team: on and off, allow-lists, open health and reflection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.runtime.errors import PermissionDenied, Unauthenticated
from services.runtime.settings import RuntimeSettings
from tests.bars import make_bars
from tests.conftest import Served, serve, shutdown

MARKETDATA = "quantmesh.marketdata.v1.MarketDataService"


@pytest.fixture
async def secured(settings: RuntimeSettings) -> AsyncIterator[Served]:
    secure = replace(
        settings,
        auth_tokens=("research=tok-research", "risk=tok-risk"),
        auth_allow=("risk=quality|forecast",),
    )
    running = await serve(secure, ["marketdata"])
    yield running
    await shutdown(running)


def client_with(served: Served, token: str) -> MeshClient:
    return MeshClient(replace(served.settings, token=token), address=served.address)


async def test_calls_without_a_valid_token_are_unauthenticated(secured: Served) -> None:
    for token in ("", "wrong"):
        async with client_with(secured, token) as mesh:
            with pytest.raises(Unauthenticated) as caught:
                await mesh.marketdata.list_symbols()
            assert caught.value.reason == "UNAUTHENTICATED"
            with pytest.raises(Unauthenticated):
                await mesh.marketdata.ingest(make_bars(), Frequency.DAILY)
            with pytest.raises(Unauthenticated):
                await mesh.marketdata.get_bars(["AAA"])


async def test_a_team_token_opens_the_services_it_may_call(secured: Served) -> None:
    async with client_with(secured, "tok-research") as mesh:
        await mesh.marketdata.ingest(make_bars(), Frequency.DAILY)
        assert (await mesh.marketdata.get_bars(["AAA"])).num_rows == 5


async def test_a_team_outside_the_allow_list_is_denied(secured: Served) -> None:
    async with client_with(secured, "tok-risk") as mesh:
        with pytest.raises(PermissionDenied) as caught:
            await mesh.marketdata.list_symbols()
        assert caught.value.metadata == {"team": "risk", "service": "marketdata"}


async def test_health_and_reflection_need_no_token(secured: Served) -> None:
    async with client_with(secured, "") as mesh:
        health = await mesh.health("marketdata").check(MARKETDATA)
        assert health.status == "SERVING"
    async with grpc.aio.insecure_channel(secured.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=5)]
    listed = {s.name for s in responses[0].list_services_response.service}
    assert {MARKETDATA, "grpc.health.v1.Health"} <= listed


async def test_without_tokens_configured_every_call_is_open(served: Served) -> None:
    page = await served.mesh.marketdata.list_symbols()
    assert page.symbols == []
