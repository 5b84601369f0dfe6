"""The sentinel's history from marketdata over gRPC: reads, and the ingest stream that keeps
the warm window (`services.quality.domain.warm_history`) current."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import pyarrow as pa

from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency
from services.marketdata.domain.store import BatchNotice
from services.quality.domain.calendar import lookback_start
from services.runtime.errors import NotFound, OutOfRange
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings


class MarketDataHistory:
    """Reads `lookback_sessions` sessions before `before`; symbols marketdata does not know yet
    (a first ingest) simply have no history. Also the warm window's `BarReader` and
    `IngestSource`; the channel opens on first use."""

    def __init__(self, runtime: RuntimeSettings, peers: Peers) -> None:
        self._runtime = runtime
        self._peers = peers
        self._mesh: MeshClient | None = None

    @property
    def mesh(self) -> MeshClient:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        return self._mesh

    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,  # met: a read sees every committed batch
    ) -> pa.Table:
        marketdata = self.mesh.marketdata
        # The common case (every symbol stored, the batch right after the data): one read.
        try:
            bars = await marketdata.get_bars(
                sorted(set(symbols)), frequency, lookback_start(before, lookback_sessions), before
            )
            if bars.num_rows:
                return bars.select(BAR_SCHEMA.names)
        except (NotFound, OutOfRange):
            pass
        # Otherwise: only the stored symbols, and the sessions that count end with their data
        # (a refit asks for history before "now").
        wanted = set(symbols)
        series = [
            (info.symbol, c.last_time)
            for info in await marketdata.all_symbols(frequency)
            if info.symbol in wanted
            for c in info.series
            if c.frequency is frequency
        ]
        if not series:
            return BAR_SCHEMA.empty_table()
        known = {symbol for symbol, _ in series}
        end = min(before, max(last for _, last in series) + timedelta(microseconds=1))
        try:
            bars = await marketdata.get_bars(
                sorted(known), frequency, lookback_start(end, lookback_sessions), end
            )
        except (NotFound, OutOfRange):  # nothing stored before this batch
            return BAR_SCHEMA.empty_table()
        return bars.select(BAR_SCHEMA.names)

    async def read_bars(
        self, symbols: Sequence[str], frequency: Frequency, start: datetime, end: datetime
    ) -> pa.Table:
        """Bars of `symbols` in [start, end) as marketdata stores them now (NotFound or
        OutOfRange as GetBars answers)."""
        bars = await self.mesh.marketdata.get_bars(sorted(set(symbols)), frequency, start, end)
        return bars.select(BAR_SCHEMA.names)

    def watch_ingests(
        self, after: datetime | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        return self.mesh.marketdata.watch_ingests(after, None, heartbeat_s)

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()
