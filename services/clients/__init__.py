"""Typed clients: one per service, domain types in and out, errors mapped to domain exceptions."""

from services.clients.marketdata import MarketDataClient
from services.clients.mesh import MeshClient
from services.clients.operations import OperationsClient

__all__ = ["MarketDataClient", "MeshClient", "OperationsClient"]
