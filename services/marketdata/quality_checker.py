"""The quality sentinel as marketdata's ingest gate sees it, over the typed quality client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pyarrow as pa

from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.gate import SentinelVerdict
from services.quality.domain.report import IngestDecision
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings


class QualityChecker:
    """Calls CheckBatch on the quality service; the channel opens on first use.

    `watermark` gives marketdata's latest announced ingestion time (None when nothing has been
    announced since start); it travels as the request's `min_ingestion_time`, so the sentinel
    checks against a history that includes every batch committed before this one.
    """

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        watermark: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._runtime = runtime
        self._peers = peers
        self._watermark = watermark
        self._mesh: MeshClient | None = None

    async def check_batch(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> SentinelVerdict:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        verdict = await self._mesh.quality.check_batch(
            bars,
            frequency,
            batch_id=batch_id,
            source=source,
            force=force,
            min_ingestion_time=self._watermark(),
        )
        return SentinelVerdict(
            quarantine=verdict.decision is IngestDecision.QUARANTINED,
            forced=verdict.decision is IngestDecision.FORCED,
            summary=verdict.summary,
            event_ids=list(verdict.event_ids),
        )

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()
