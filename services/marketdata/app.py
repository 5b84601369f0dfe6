"""The marketdata service as the server bootstrap hosts it: settings, stores, servicer."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from grpc import aio
from quantmesh.marketdata.v1 import marketdata_pb2, marketdata_pb2_grpc

from services.marketdata.domain.feature_service import Features
from services.marketdata.domain.features.store import FeatureStore
from services.marketdata.domain.gate import (
    FailurePolicy,
    IngestGate,
    PassThroughGate,
    SentinelGate,
)
from services.marketdata.domain.service import MarketData
from services.marketdata.domain.store import BarStore, open_database
from services.marketdata.quality_checker import QualityChecker
from services.marketdata.servicer import RESPONSE_SERIALIZERS, MarketDataServicer
from services.runtime.hosting import add_servicer
from services.runtime.operations.manager import OperationManager
from services.runtime.operations.store import OperationStore
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, SettingsError, env, load

SERVICE_NAME = marketdata_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name


@dataclasses.dataclass(frozen=True)
class MarketDataSettings:
    db_path: Path | None = env(
        "QUANTMESH_MARKETDATA_DB",
        None,
        "marketdata's DuckDB file; default `$QUANTMESH_DATA_DIR/marketdata.duckdb`.",
    )
    max_batch_rows: int = env(
        "QUANTMESH_MARKETDATA_MAX_BATCH_ROWS",
        5_000_000,
        "Largest ingest batch in rows; larger ones get RESOURCE_EXHAUSTED.",
    )
    quality_gate: str = env(
        "QUANTMESH_MARKETDATA_QUALITY_GATE",
        "auto",
        "Check every ingest batch with the quality sentinel before committing: `on`, `off`, or "
        "`auto` (on when the quality service is hosted in the same process or has its own "
        "`QUANTMESH_QUALITY_ADDRESS`).",
    )
    quality_policy: str = env(
        "QUANTMESH_MARKETDATA_QUALITY_POLICY",
        "closed",
        "What ingest does when the sentinel is unreachable: `closed` refuses the batch with "
        "UNAVAILABLE (retry later), `open` commits it unchecked and says so in the response.",
    )


class MarketDataService:
    name = "marketdata"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        settings: MarketDataSettings | None = None,
    ):
        self.settings = settings or load(MarketDataSettings)
        self.peers = peers
        self.runtime = runtime
        self.gate = self._gate()
        self.db_path = self.settings.db_path or runtime.data_dir / "marketdata.duckdb"
        self.domain: MarketData | None = None
        self._checker: QualityChecker | None = None
        self.features: Features | None = None
        self._operations: OperationManager | None = None
        self._store: BarStore | None = None

    @property
    def operations(self) -> OperationManager | None:
        return self._operations

    async def start(self) -> None:
        connection = open_database(self.db_path)
        self._store = BarStore(connection)
        self.domain = MarketData(
            self._store, self.gate, max_batch_rows=self.settings.max_batch_rows
        )
        self.features = Features(FeatureStore(connection.cursor(), self._store), self._store)
        self._operations = OperationManager(self.name, OperationStore(connection.cursor()))
        await self._operations.start()

    def register(self, server: aio.Server) -> None:
        assert self.domain is not None and self.features is not None, "start() first"
        add_servicer(
            server,
            marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server,
            MarketDataServicer(self.domain, self.features),
            RESPONSE_SERIALIZERS,
        )

    def _announced_through(self) -> datetime | None:
        """The latest ingestion time announced on WatchIngests: the sentinel's fence."""
        return self.domain.feed.last_published if self.domain is not None else None

    def _gate(self) -> IngestGate:
        choice = self.settings.quality_gate.strip().lower()
        if choice not in ("on", "off", "auto"):
            raise SettingsError(
                f"QUANTMESH_MARKETDATA_QUALITY_GATE: {choice!r} is not on, off or auto"
            )
        try:
            policy = FailurePolicy(self.settings.quality_policy.strip().lower())
        except ValueError:
            raise SettingsError(
                f"QUANTMESH_MARKETDATA_QUALITY_POLICY: {self.settings.quality_policy!r} "
                "is not open or closed"
            ) from None
        if choice == "off" or (choice == "auto" and not self.peers.configured("quality")):
            return PassThroughGate()
        self._checker = QualityChecker(self.runtime, self.peers, self._announced_through)
        return SentinelGate(self._checker, policy)

    async def close(self) -> None:
        if self._checker is not None:
            await self._checker.close()
        if self._operations is not None:
            await self._operations.close()
        if self._store is not None:
            self._store.close()
