"""Every service the mesh knows, by short name: what `quantmesh up --service NAME` can host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.runtime.hosting import HostedService
from services.runtime.peers import Peers
from services.runtime.server import MeshServer
from services.runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    #: The protobuf service it serves, for health checks from clients.
    full_name: str
    factory: Callable[[RuntimeSettings, Peers], HostedService]


def _marketdata(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.marketdata.app import MarketDataService

    return MarketDataService(runtime, peers)


def _signal(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.signal.app import SignalService

    return SignalService(runtime, peers)


def _forecast(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.forecast.app import ForecastService

    return ForecastService(runtime, peers)


def _quality(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.quality.app import QualityService

    return QualityService(runtime, peers)


def _backtest(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.backtest.app import BacktestService

    return BacktestService(runtime, peers)


def _regime(runtime: RuntimeSettings, peers: Peers) -> HostedService:
    from services.regime.app import RegimeService

    return RegimeService(runtime, peers)


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("marketdata", "quantmesh.marketdata.v1.MarketDataService", _marketdata),
    ServiceEntry("quality", "quantmesh.quality.v1.QualityService", _quality),
    ServiceEntry("signal", "quantmesh.signal.v1.SignalService", _signal),
    ServiceEntry("regime", "quantmesh.regime.v1.RegimeService", _regime),
    ServiceEntry("forecast", "quantmesh.forecast.v1.ForecastService", _forecast),
    ServiceEntry("backtest", "quantmesh.backtest.v1.BacktestService", _backtest),
)


def service_names() -> list[str]:
    return [s.name for s in SERVICES]


def entry(name: str) -> ServiceEntry:
    for service in SERVICES:
        if service.name == name:
            return service
    raise ValueError(f"unknown service {name!r}; known: {', '.join(service_names())}")


def build_services(
    names: Sequence[str], runtime: RuntimeSettings, peers: Peers | None = None
) -> list[HostedService]:
    """Instantiate the named services (all when `names` is empty), in registry order."""
    for name in names:
        entry(name)
    chosen = [s for s in SERVICES if not names or s.name in names]
    peers = peers or Peers(runtime, [s.name for s in chosen])
    return [s.factory(runtime, peers) for s in chosen]


def build_server(names: Sequence[str], runtime: RuntimeSettings) -> MeshServer:
    """A server hosting the named services (all when empty), each able to call the others."""
    chosen = [s.name for s in SERVICES if not names or s.name in names]
    for name in names:
        entry(name)
    peers = Peers(runtime, chosen)
    return MeshServer(build_services(chosen, runtime, peers), runtime, peers)
