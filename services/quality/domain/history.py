"""Where bar history comes from: the caller's business, behind one small async protocol.

The service backs it with the marketdata client; tests and scripts with a table in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency, normalize_bars
from services.quality.domain.calendar import lookback_start
from services.runtime.time_convert import ensure_utc


class HistorySource(Protocol):
    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table:
        """Bars (BAR_SCHEMA) of `symbols` strictly before `before`, covering at least the last
        `lookback_sessions` exchange sessions (more is fine). Unknown symbols have no rows.

        `min_ingestion_time`, when given, is a fence: the bars reflect at least every batch
        the store committed up to that knowledge time (a source that always reads the store as
        it is now meets it by construction)."""
        ...


def empty_bars() -> pa.Table:
    return BAR_SCHEMA.empty_table()


class InMemoryHistory:
    """A HistorySource over one bar table (tests, scripts, the evaluation)."""

    def __init__(self, bars: pa.Table | None = None) -> None:
        self._bars = normalize_bars(bars) if bars is not None else empty_bars()
        self.calls = 0

    def extend(self, bars: pa.Table) -> None:
        """Add committed bars, as an ingest would."""
        self._bars = pa.concat_tables([self._bars, normalize_bars(bars)])

    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table:
        self.calls += 1
        before = ensure_utc(before)
        return self._between(symbols, lookback_start(before, lookback_sessions), before)

    async def read_bars(
        self, symbols: Sequence[str], frequency: Frequency, start: datetime, end: datetime
    ) -> pa.Table:
        """Bars of `symbols` in [start, end) (a BarReader, for a warm window over this table)."""
        return self._between(symbols, ensure_utc(start), ensure_utc(end))

    def _between(self, symbols: Sequence[str], start: datetime, before: datetime) -> pa.Table:
        bars = self._bars
        mask = pc.and_(
            pc.is_in(bars.column("symbol"), value_set=pa.array(list(symbols), pa.string())),
            pc.and_(
                pc.less(bars.column("time"), pa.scalar(before, bars.schema.field("time").type)),
                pc.greater_equal(
                    bars.column("time"), pa.scalar(start, bars.schema.field("time").type)
                ),
            ),
        )
        return bars.filter(mask).sort_by([("symbol", "ascending"), ("time", "ascending")])
