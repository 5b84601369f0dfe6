"""The signal service as the server bootstrap hosts it: settings, stores, servicer, live scorer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from grpc import aio
from quantmesh.signal.v1 import signal_pb2, signal_pb2_grpc

from services.runtime.mongo import MongoConnection, MongoSettings, connect
from services.runtime.operations.manager import OperationManager
from services.runtime.operations.store import OperationStore
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, env, load
from services.signal.domain.follow_state import FollowState
from services.signal.domain.model_cards import ModelCardStore
from services.signal.domain.registry import ModelRegistry
from services.signal.domain.service import Signals
from services.signal.domain.serving import ModelResolver
from services.signal.domain.signal_log import SignalLog
from services.signal.domain.subscriptions import SubscriptionHub
from services.signal.market_features import MarketDataFeatures
from services.signal.servicer import SignalServicer

SERVICE_NAME = signal_pb2.DESCRIPTOR.services_by_name["SignalService"].full_name


@dataclasses.dataclass(frozen=True)
class SignalSettings:
    db_path: Path | None = env(
        "QUANTMESH_SIGNAL_DB",
        None,
        "signal's DuckDB file (signal log, followed streams, operations); default "
        "`$QUANTMESH_DATA_DIR/signal.duckdb`.",
    )
    mlflow_uri: str = env(
        "QUANTMESH_SIGNAL_MLFLOW_URI",
        "",
        "MLflow tracking and registry URI (e.g. `http://mlflow:5000`); empty uses SQLite and "
        "artifacts under `$QUANTMESH_DATA_DIR/mlflow`.",
    )
    alias_ttl_s: float = env(
        "QUANTMESH_SIGNAL_ALIAS_TTL_S",
        2.0,
        "How long a resolved alias is trusted before the registry is asked again; bounds how "
        "soon serving follows a promotion made elsewhere.",
    )
    queue_size: int = env(
        "QUANTMESH_SIGNAL_QUEUE_SIZE",
        256,
        "Signal messages a subscriber may fall behind before it is ended with "
        "RESOURCE_EXHAUSTED (it resumes from its last cursor without loss).",
    )
    max_batch_rows: int = env(
        "QUANTMESH_SIGNAL_MAX_BATCH_ROWS", 100_000, "Largest ScoreBatch request in rows."
    )
    follow_ingests: bool = env(
        "QUANTMESH_SIGNAL_FOLLOW_INGESTS",
        True,
        "Score every committed ingest batch for the followed streams (live signals).",
    )
    train_threads: int = env(
        "QUANTMESH_SIGNAL_TRAIN_THREADS", 2, "LightGBM threads per training job."
    )


class SignalService:
    name = "signal"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        settings: SignalSettings | None = None,
        mongo: MongoSettings | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings or load(SignalSettings)
        self.mongo_settings = mongo or load(MongoSettings)
        self.db_path = self.settings.db_path or runtime.data_dir / "signal.duckdb"
        self.features = MarketDataFeatures(runtime, peers)
        self.domain: Signals | None = None
        self._operations: OperationManager | None = None
        self._mongo: MongoConnection | None = None
        self._follower: asyncio.Task[None] | None = None

    @property
    def operations(self) -> OperationManager | None:
        return self._operations

    def registry(self) -> ModelRegistry:
        if self.settings.mlflow_uri:
            return ModelRegistry(self.settings.mlflow_uri)
        return ModelRegistry.local(self.runtime.data_dir / "mlflow")

    async def start(self) -> None:
        import duckdb

        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(self.db_path))
        self._mongo = await connect(self.mongo_settings, self.runtime.data_dir)
        cards = ModelCardStore(self._mongo.database)
        await cards.start()
        registry = self.registry()
        await asyncio.to_thread(registry.load_client_code)
        log = SignalLog(connection.cursor())
        self.domain = Signals(
            registry,
            ModelResolver(registry, alias_ttl_s=self.settings.alias_ttl_s),
            SubscriptionHub(log, queue_size=self.settings.queue_size),
            self.features,
            FollowState(connection.cursor()),
            cards,
            max_batch_rows=self.settings.max_batch_rows,
            train_threads=self.settings.train_threads,
        )
        self._connection = connection
        self._operations = OperationManager(self.name, OperationStore(connection.cursor()))
        await self._operations.start()
        if self.settings.follow_ingests:
            self._follower = asyncio.create_task(self.domain.follow_ingests())

    def register(self, server: aio.Server) -> None:
        assert self.domain is not None and self._operations is not None, "start() first"
        signal_pb2_grpc.add_SignalServiceServicer_to_server(
            SignalServicer(self.domain, self._operations), server
        )

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self.domain is not None:
            await self.domain.close()
        if self._operations is not None:
            await self._operations.close()
        await self.features.close()
        if self._mongo is not None:
            await self._mongo.close()
        if self.domain is not None:
            self._connection.close()
