"""The regime service as the server bootstrap hosts it: settings, stores, cache, followers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any

import duckdb
from grpc import aio
from quantmesh.regime.v1 import regime_pb2, regime_pb2_grpc

from services.regime.domain.cache import COLLECTION, RegimeCache
from services.regime.domain.change_log import RegimeChangeLog
from services.regime.domain.model_store import RegimeModelStore
from services.regime.domain.service import Regimes
from services.regime.market_bars import MarketDataBars
from services.regime.servicer import RegimeServicer
from services.runtime.errors import Unavailable
from services.runtime.mongo import MongoConnection, MongoSettings, connect, motor_client
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, env, load

SERVICE_NAME = regime_pb2.DESCRIPTOR.services_by_name["RegimeService"].full_name
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RegimeSettings:
    db_path: Path | None = env(
        "QUANTMESH_REGIME_DB",
        None,
        "regime's DuckDB file (models, change log, followed symbols); default "
        "`$QUANTMESH_DATA_DIR/regime.duckdb`.",
    )
    cache: bool = env("QUANTMESH_REGIME_CACHE", True, "Cache ClassifyRegime answers in MongoDB.")
    cache_ttl_s: float = env(
        "QUANTMESH_REGIME_CACHE_TTL_S", 7 * 86400.0, "How long a cached answer may be served."
    )
    cache_timeout_s: float = env(
        "QUANTMESH_REGIME_CACHE_TIMEOUT_S",
        0.25,
        "Deadline of one cache lookup; slower or failing MongoDB marks the cache degraded and "
        "answers are computed.",
    )
    cache_retry_s: float = env(
        "QUANTMESH_REGIME_CACHE_RETRY_S",
        2.0,
        "After a cache failure, how long lookups skip MongoDB before trying it again.",
    )
    cache_memory_entries: int = env(
        "QUANTMESH_REGIME_CACHE_MEMORY_ENTRIES",
        200_000,
        "Answers kept in process in front of MongoDB (LRU); 0 sends every lookup to MongoDB.",
    )
    max_history_rows: int = env(
        "QUANTMESH_REGIME_MAX_HISTORY_ROWS",
        2_000_000,
        "Largest GetRegimeHistory answer in rows; larger requests are INVALID_ARGUMENT.",
    )
    queue_size: int = env(
        "QUANTMESH_REGIME_QUEUE_SIZE",
        256,
        "Change messages a WatchRegime subscriber may fall behind before it is ended with "
        "RESOURCE_EXHAUSTED (it resumes from its last cursor without loss).",
    )
    follow_ingests: bool = env(
        "QUANTMESH_REGIME_FOLLOW_INGESTS",
        True,
        "Follow marketdata's ingests: revision checks of cached answers and regime changes.",
    )


class RegimeService:
    name = "regime"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        settings: RegimeSettings | None = None,
        mongo: MongoSettings | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings or load(RegimeSettings)
        self.mongo_settings = mongo or load(MongoSettings)
        self.db_path = self.settings.db_path or runtime.data_dir / "regime.duckdb"
        self.bars = MarketDataBars(runtime, peers)
        self.domain: Regimes | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._mongo: MongoConnection | None = None
        self._cache_client: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def operations(self) -> None:
        return None

    async def _cache_collection(self) -> Any | None:
        """The cache collection on a client with short deadlines, or None when disabled.

        An embedded server is started here; an external one that is down at start only
        degrades the cache (motor reconnects when it returns).
        """
        if not self.settings.cache:
            return None
        uri = self.mongo_settings.uri.strip()
        if not uri:
            self._mongo = await connect(self.mongo_settings, self.runtime.data_dir)
            assert self._mongo.server is not None
            uri = self._mongo.server.uri
        timeout = self.settings.cache_timeout_s
        self._cache_client = motor_client(
            uri, timeout, connectTimeoutMS=int(timeout * 1000), socketTimeoutMS=int(timeout * 4000)
        )
        return self._cache_client[self.mongo_settings.database][COLLECTION]

    async def start(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(str(self.db_path))
        try:
            collection = await self._cache_collection()
        except Unavailable as exc:
            raise Unavailable(f"regime cache: {exc.message}") from None
        cache = RegimeCache(
            collection,
            ttl_s=self.settings.cache_ttl_s,
            timeout_s=self.settings.cache_timeout_s,
            retry_s=self.settings.cache_retry_s,
            memory_entries=self.settings.cache_memory_entries,
        )
        await cache.ensure_indexes()
        self.domain = Regimes(
            self.bars,
            RegimeModelStore(self._connection),
            cache,
            RegimeChangeLog(self._connection),
            max_history_rows=self.settings.max_history_rows,
            queue_size=self.settings.queue_size,
        )
        if self.settings.follow_ingests:
            self._tasks.append(asyncio.create_task(self.domain.follow_ingests()))
        if cache.enabled:
            self._tasks.append(
                asyncio.create_task(self.domain.keep_cache_alive(self.settings.cache_retry_s))
            )

    def register(self, server: aio.Server) -> None:
        assert self.domain is not None, "start() first"
        regime_pb2_grpc.add_RegimeServiceServicer_to_server(RegimeServicer(self.domain), server)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.domain is not None:
            await self.domain.close()
        await self.bars.close()
        if self._cache_client is not None:
            self._cache_client.close()
        if self._mongo is not None:
            await self._mongo.close()
        if self._connection is not None:
            self._connection.close()
