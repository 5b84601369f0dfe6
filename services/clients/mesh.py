"""One entry point to the whole mesh: a client per service, each on the right address.

Addresses come from settings: `QUANTMESH_ADDRESS` for all, `QUANTMESH_<SERVICE>_ADDRESS` per
service, so the same code runs against `quantmesh up` on a laptop and a cluster. One channel is
opened per distinct address and shared by the clients on it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from grpc import aio

from services.clients import policies
from services.clients.backtest import BacktestClient
from services.clients.base import ServiceClient
from services.clients.forecast import ForecastClient
from services.clients.health import HealthClient
from services.clients.marketdata import MarketDataClient
from services.clients.operations import OperationsClient
from services.clients.quality import QualityClient
from services.clients.regime import RegimeClient
from services.clients.signal import SignalClient
from services.runtime.channels import create_channel
from services.runtime.settings import RuntimeSettings, load

C = TypeVar("C", bound=ServiceClient)


class MeshClient:
    def __init__(
        self,
        settings: RuntimeSettings | None = None,
        address: str | None = None,
        resolve: Callable[[str], str] | None = None,
    ) -> None:
        """`address` serves every service; else `resolve(service)`; else settings decide."""
        self.settings = settings or load(RuntimeSettings)
        self._address = address
        self._resolve = resolve or self.settings.address_for
        self._channels: dict[str, aio.Channel] = {}

    def address_for(self, service: str) -> str:
        return self._address or self._resolve(service)

    def channel(self, service: str) -> aio.Channel:
        address = self.address_for(service)
        if address not in self._channels:
            self._channels[address] = create_channel(address, self.settings, policies.ALL)
        return self._channels[address]

    def _client(self, cls: type[C], service: str) -> C:
        return cls(
            self.channel(service),
            token=self.settings.token,
            timeout=self.settings.default_timeout_s,
        )

    @property
    def backtest(self) -> BacktestClient:
        return self._client(BacktestClient, "backtest")

    @property
    def forecast(self) -> ForecastClient:
        return self._client(ForecastClient, "forecast")

    @property
    def marketdata(self) -> MarketDataClient:
        return self._client(MarketDataClient, "marketdata")

    @property
    def quality(self) -> QualityClient:
        return self._client(QualityClient, "quality")

    @property
    def regime(self) -> RegimeClient:
        return self._client(RegimeClient, "regime")

    @property
    def signal(self) -> SignalClient:
        return self._client(SignalClient, "signal")

    def operations(self, service: str) -> OperationsClient:
        """Operations of `service`, served next to it."""
        return self._client(OperationsClient, service)

    def health(self, service: str) -> HealthClient:
        return self._client(HealthClient, service)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    async def __aenter__(self) -> MeshClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
