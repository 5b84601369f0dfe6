"""The quality service as the server bootstrap hosts it: settings, event store, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import duckdb
from grpc import aio
from quantmesh.quality.v1 import quality_pb2, quality_pb2_grpc

from services.quality.domain.delivery import WebhookDispatcher
from services.quality.domain.event_store import EventStore
from services.quality.domain.findings import Severity
from services.quality.domain.sentinel import Sentinel
from services.quality.domain.warm_history import WarmHistory
from services.quality.domain.webhooks import WebhookConfig
from services.quality.market_history import MarketDataHistory
from services.quality.servicer import QualityServicer
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, SettingsError, env, load

SERVICE_NAME = quality_pb2.DESCRIPTOR.services_by_name["QualityService"].full_name


@dataclasses.dataclass(frozen=True)
class QualitySettings:
    db_path: Path | None = env(
        "QUANTMESH_QUALITY_DB",
        None,
        "quality's DuckDB file (events, webhook outbox); default "
        "`$QUANTMESH_DATA_DIR/quality.duckdb`.",
    )
    min_event_severity: str = env(
        "QUANTMESH_QUALITY_MIN_EVENT_SEVERITY",
        "MEDIUM",
        "Findings at or above this severity (LOW, MEDIUM, HIGH, CRITICAL) are stored as events.",
    )
    webhook_urls: tuple[str, ...] = env(
        "QUANTMESH_QUALITY_WEBHOOK_URLS",
        (),
        "Comma-separated http(s) URLs that receive HIGH and CRITICAL events as signed JSON POSTs.",
    )
    webhook_secret: str = env(
        "QUANTMESH_QUALITY_WEBHOOK_SECRET",
        "",
        "HMAC-SHA256 key of the `X-Quantmesh-Signature` header; required with webhook URLs.",
    )
    webhook_min_severity: str = env(
        "QUANTMESH_QUALITY_WEBHOOK_MIN_SEVERITY", "HIGH", "Lowest severity sent to webhooks."
    )
    history_cache_bars: int = env(
        "QUANTMESH_QUALITY_HISTORY_CACHE_BARS",
        1_000_000,
        "Bars of recent history the sentinel keeps warm in memory (least recently used symbols "
        "go first), kept current by marketdata's ingest stream, so checks that carry "
        "marketdata's watermark need not read it; 0 turns the window off.",
    )
    history_fence_timeout_s: float = env(
        "QUANTMESH_QUALITY_HISTORY_FENCE_TIMEOUT_S",
        0.25,
        "How long a check waits for the warm history to apply the ingests up to its watermark "
        "before it reads marketdata instead.",
    )


class QualityService:
    name = "quality"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self, runtime: RuntimeSettings, peers: Peers, settings: QualitySettings | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = settings or load(QualitySettings)
        self.db_path = self.settings.db_path or runtime.data_dir / "quality.duckdb"
        self.market = MarketDataHistory(runtime, peers)
        if self.settings.history_cache_bars < 0 or self.settings.history_fence_timeout_s < 0:
            raise SettingsError("QUANTMESH_QUALITY_HISTORY_*: must not be negative")
        self.history = WarmHistory(
            self.market,
            self.market,
            max_bars=self.settings.history_cache_bars,
            fence_timeout_s=self.settings.history_fence_timeout_s,
        )
        self.sentinel: Sentinel | None = None
        self._follower: asyncio.Task[None] | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None
        try:
            self.min_severity = Severity.parse(self.settings.min_event_severity)
            webhook_min = Severity.parse(self.settings.webhook_min_severity)
        except Exception as exc:
            raise SettingsError(f"quality settings: {exc}") from None
        self.webhooks: WebhookConfig | None = None
        if self.settings.webhook_urls:
            try:
                self.webhooks = WebhookConfig.of(
                    self.settings.webhook_urls,
                    self.settings.webhook_secret,
                    min_severity=webhook_min,
                )
            except Exception as exc:
                raise SettingsError(f"QUANTMESH_QUALITY_WEBHOOK_*: {exc}") from None

    @property
    def operations(self) -> None:
        return None

    async def start(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(str(self.db_path))
        events = EventStore(
            self._connection, min_severity=self.min_severity, webhooks=self.webhooks
        )
        dispatcher = WebhookDispatcher(events, self.webhooks) if self.webhooks else None
        self.sentinel = Sentinel(history=self.history, events=events, dispatcher=dispatcher)
        if dispatcher is not None:
            await dispatcher.start()
        if self.history.enabled:
            self._follower = asyncio.create_task(
                self.history.follow_ingests(self.market), name="quality-warm-history"
            )

    def register(self, server: aio.Server) -> None:
        assert self.sentinel is not None, "start() first"
        quality_pb2_grpc.add_QualityServiceServicer_to_server(
            QualityServicer(self.sentinel), server
        )

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self.sentinel is not None:
            await self.sentinel.aclose()
        await self.market.close()
        if self._connection is not None:
            self._connection.close()
