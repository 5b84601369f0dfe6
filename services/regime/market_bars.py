"""The regime service's DailyBarSource: daily closes from marketdata over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.store import BatchNotice
from services.regime.domain.model import DailySeries
from services.runtime.errors import NotFound
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings


def series_from_bars(bars: pa.Table, symbols: Sequence[str]) -> list[DailySeries]:
    """Per-symbol close series, in the order of `symbols`; NotFound names any without bars."""
    ordered = bars.sort_by([("symbol", "ascending"), ("time", "ascending")])
    names = ordered.column("symbol").to_numpy(zero_copy_only=False)
    found, starts, counts = np.unique(names, return_index=True, return_counts=True)
    where = {str(s): (int(i), int(n)) for s, i, n in zip(found, starts, counts, strict=True)}
    missing = [s for s in symbols if s not in where]
    if missing:
        raise NotFound(
            f"no daily bars for {', '.join(missing)}",
            reason="SYMBOL_NOT_FOUND",
            metadata={"symbols": ",".join(missing)},
        )
    times = ordered.column("time").to_pylist()
    closes = ordered.column("close").to_numpy().astype(np.float64)
    return [
        DailySeries(s, tuple(times[i : i + n]), closes[i : i + n])
        for s in symbols
        for i, n in [where[s]]
    ]


class MarketDataBars:
    """`DailyBarSource` over the marketdata client; the channel opens on first use."""

    def __init__(self, runtime: RuntimeSettings, peers: Peers) -> None:
        self._runtime = runtime
        self._peers = peers
        self._mesh: MeshClient | None = None

    @property
    def mesh(self) -> MeshClient:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        return self._mesh

    async def daily_series(self, symbols: Sequence[str]) -> list[DailySeries]:
        bars = await self.mesh.marketdata.get_bars(list(symbols), Frequency.DAILY)
        return series_from_bars(bars.select(["symbol", "time", "close"]), symbols)

    def watch_ingests(
        self, after: datetime | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        return self.mesh.marketdata.watch_ingests(after, None, heartbeat_s)

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()
