"""The marketdata domain: ingest (validate, gate, commit), bitemporal reads, symbol listing.

The gRPC servicer and the typed client both speak this interface, so the contract tests run one
suite against this object and against the service over the network.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency, normalize_bars, validate_bars
from services.marketdata.domain.gate import IngestGate, IngestOutcome, PassThroughGate
from services.marketdata.domain.ingest_feed import IngestFeed
from services.marketdata.domain.store import BarStore, BatchNotice, Coverage, SymbolCounts
from services.runtime.errors import (
    InvalidArgument,
    NotFound,
    OutOfRange,
    ResourceExhausted,
)
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token
from services.runtime.time_convert import ensure_utc


@dataclass(frozen=True)
class IngestReport:
    batch_id: str
    ingestion_time: datetime
    rows_received: int
    rows_inserted: int
    rows_revised: int
    rows_unchanged: int
    symbols: list[SymbolCounts]
    quality_gate: str
    outcome: IngestOutcome = IngestOutcome.COMMITTED_UNCHECKED
    quality_event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    series: list[Coverage]


@dataclass(frozen=True)
class SymbolPage:
    symbols: list[SymbolInfo]
    next_page_token: str


class MarketData:
    def __init__(
        self, store: BarStore, gate: IngestGate | None = None, max_batch_rows: int = 5_000_000
    ) -> None:
        self.store = store
        self.gate: IngestGate = gate or PassThroughGate()
        self.max_batch_rows = max_batch_rows
        self.feed = IngestFeed()
        self._ingest_lock = asyncio.Lock()

    async def ingest(
        self, bars: pa.Table, frequency: Frequency | None, source: str = "", force: bool = False
    ) -> IngestReport:
        """Validate, gate and commit one batch atomically: all rows or none.

        The quality gate may quarantine the batch instead (stored apart, invisible to reads);
        `force` commits it anyway and the forced decision is recorded with the sentinel's events.
        """
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        if bars.num_rows == 0:
            raise InvalidArgument.for_field("frame", "the batch has no rows")
        self.check_batch_rows(bars.num_rows)
        table = normalize_bars(bars)
        await asyncio.to_thread(validate_bars, table)
        batch_id = uuid.uuid4().hex
        decision = await self.gate.inspect(table, frequency, source, batch_id, force)
        if not decision.outcome.commits:
            async with self._ingest_lock:
                at = await asyncio.to_thread(
                    self.store.quarantine, table, frequency, source, batch_id, decision.summary
                )
            return IngestReport(
                batch_id=batch_id,
                ingestion_time=at,
                rows_received=table.num_rows,
                rows_inserted=0,
                rows_revised=0,
                rows_unchanged=0,
                symbols=[],
                quality_gate=decision.summary,
                outcome=decision.outcome,
                quality_event_ids=decision.event_ids,
            )
        async with self._ingest_lock:
            result = await asyncio.to_thread(
                self.store.commit, table, frequency, source, batch_id, decision.summary
            )
            if result.notice.rows_changed:
                self.feed.publish(result.notice)
        counts = result.symbols
        return IngestReport(
            batch_id=batch_id,
            ingestion_time=result.ingested_at,
            rows_received=table.num_rows,
            rows_inserted=sum(c.inserted for c in counts),
            rows_revised=sum(c.revised for c in counts),
            rows_unchanged=sum(c.unchanged for c in counts),
            symbols=counts,
            quality_gate=decision.summary,
            outcome=decision.outcome,
            quality_event_ids=decision.event_ids,
        )

    def watch_ingests(
        self,
        after: datetime | None = None,
        frequency: Frequency | None = None,
        heartbeat_s: float = 5.0,
    ) -> AsyncIterator[BatchNotice | None]:
        """Committed batches after `after` (replayed), then live ones; None is a heartbeat."""
        after = ensure_utc(after) if after else None

        def replay(since: datetime | None) -> list[BatchNotice]:
            return self.store.batch_notices(since, frequency)

        return self.feed.watch(replay, after, frequency, heartbeat_s)

    def check_batch_rows(self, rows: int) -> None:
        """ResourceExhausted when a batch of `rows` rows is larger than one ingest may be."""
        if rows > self.max_batch_rows:
            raise ResourceExhausted(
                f"batch of {rows} or more rows exceeds the limit of {self.max_batch_rows}; "
                "split it into several ingests",
                metadata={"rows": str(rows), "limit": str(self.max_batch_rows)},
            )

    async def get_bars(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency | None = Frequency.DAILY,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> pa.Table:
        """Latest revisions known at `as_of` of `symbols` (all when empty) in [start, end)."""
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        start = ensure_utc(start) if start else None
        end = ensure_utc(end) if end else None
        if start is not None and end is not None and start >= end:
            raise InvalidArgument.for_field(
                "time_range", f"start {start.isoformat()} is not before end {end.isoformat()}"
            )
        wanted = sorted({s.strip().upper() for s in symbols})
        if any(not s for s in wanted):
            raise InvalidArgument.for_field("symbols", "contains an empty symbol")
        as_of = ensure_utc(as_of) if as_of else None
        if wanted or start is not None or end is not None:
            await asyncio.to_thread(self._check_coverage, wanted, frequency, start, end)
        return await asyncio.to_thread(self.store.read, wanted, frequency, start, end, as_of)

    def _check_coverage(
        self,
        wanted: list[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> None:
        """NOT_FOUND for unknown symbols, OUT_OF_RANGE for a range that misses the data."""
        coverage = self.store.coverage(frequency, wanted)
        missing = sorted(set(wanted) - {c.symbol for c in coverage})
        if missing:
            raise NotFound(
                f"no {frequency.value} bars for symbol(s) {', '.join(missing)}",
                reason="SYMBOL_NOT_FOUND",
                metadata={"symbol": ",".join(missing)},
            )
        if coverage:
            first = min(c.first_time for c in coverage)
            last = max(c.last_time for c in coverage)
            if (start is not None and start > last) or (end is not None and end <= first):
                raise OutOfRange(
                    f"the requested range lies outside the stored data "
                    f"({first.isoformat()} to {last.isoformat()})",
                    metadata={"first_time": first.isoformat(), "last_time": last.isoformat()},
                )

    async def list_symbols(
        self,
        frequency: Frequency | None = None,
        prefix: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> SymbolPage:
        filters = {"frequency": frequency, "prefix": prefix.upper()}
        after = decode_page_token(page_token, filters)
        limit = clamp_page_size(page_size, default=100, maximum=1000)
        coverage = await asyncio.to_thread(
            self.store.coverage, frequency, None, prefix, after, limit + 1
        )
        by_symbol: dict[str, list[Coverage]] = {}
        for c in coverage:
            by_symbol.setdefault(c.symbol, []).append(c)
        names = list(by_symbol)
        token = ""
        if len(names) > limit:
            names = names[:limit]
            token = encode_page_token(names[-1], filters)
        return SymbolPage([SymbolInfo(n, by_symbol[n]) for n in names], token)
