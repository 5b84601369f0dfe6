"""The marketdata service as the server bootstrap hosts it: settings, stores, servicer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grpc import aio
from quantmesh.marketdata.v1 import marketdata_pb2, marketdata_pb2_grpc

from services.marketdata.domain.service import MarketData
from services.marketdata.domain.store import BarStore, open_database
from services.marketdata.servicer import MarketDataServicer
from services.runtime.operations.manager import OperationManager
from services.runtime.operations.store import OperationStore
from services.runtime.settings import RuntimeSettings, env, load

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


class MarketDataService:
    name = "marketdata"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(self, runtime: RuntimeSettings, settings: MarketDataSettings | None = None):
        self.settings = settings or load(MarketDataSettings)
        self.db_path = self.settings.db_path or runtime.data_dir / "marketdata.duckdb"
        self.domain: MarketData | None = None
        self._operations: OperationManager | None = None
        self._store: BarStore | None = None

    @property
    def operations(self) -> OperationManager | None:
        return self._operations

    async def start(self) -> None:
        connection = open_database(self.db_path)
        self._store = BarStore(connection)
        self.domain = MarketData(self._store, max_batch_rows=self.settings.max_batch_rows)
        self._operations = OperationManager(self.name, OperationStore(connection.cursor()))
        await self._operations.start()

    def register(self, server: aio.Server) -> None:
        assert self.domain is not None, "start() before register()"
        marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server(
            MarketDataServicer(self.domain), server
        )

    async def close(self) -> None:
        if self._operations is not None:
            await self._operations.close()
        if self._store is not None:
            self._store.close()
