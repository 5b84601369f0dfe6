"""What the regime service needs of market data (over gRPC in production, in memory in tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from services.marketdata.domain.store import BatchNotice
from services.regime.domain.model import DailySeries


class DailyBarSource(Protocol):
    async def daily_series(self, symbols: Sequence[str]) -> list[DailySeries]:
        """Every stored daily close of each symbol, oldest first, in the order asked.

        NotFound names the symbols without daily bars.
        """
        ...

    def watch_ingests(
        self, after: datetime | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        """Committed ingest batches after `after` (all of them for the epoch), then live ones;
        None is a heartbeat."""
        ...
