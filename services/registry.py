"""Every service the mesh knows, by short name: what `quantmesh up --service NAME` can host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.runtime.hosting import HostedService
from services.runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    #: The protobuf service it serves, for health checks from clients.
    full_name: str
    factory: Callable[[RuntimeSettings], HostedService]


def _marketdata(runtime: RuntimeSettings) -> HostedService:
    from services.marketdata.app import MarketDataService

    return MarketDataService(runtime)


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("marketdata", "quantmesh.marketdata.v1.MarketDataService", _marketdata),
)


def service_names() -> list[str]:
    return [s.name for s in SERVICES]


def entry(name: str) -> ServiceEntry:
    for service in SERVICES:
        if service.name == name:
            return service
    raise ValueError(f"unknown service {name!r}; known: {', '.join(service_names())}")


def build_services(names: Sequence[str], runtime: RuntimeSettings) -> list[HostedService]:
    """Instantiate the named services (all when `names` is empty), in registry order."""
    for name in names:
        entry(name)
    return [s.factory(runtime) for s in SERVICES if not names or s.name in names]
