"""A warm history window: the recent bars checks need, kept in memory and fed by ingest notices.

Checking a batch needs each symbol's last `lookback` sessions. Reading them from marketdata for
every check costs more than the checks themselves, so `WarmHistory` keeps, per (frequency,
symbol), a window: every stored bar of the symbol at or after the window's start. It stays
right because marketdata announces every committed batch on its ingest stream (`BatchNotice`:
symbols, bar time range changed, knowledge time), and the window applies each notice in order:
the changed range of the cached symbols is read again and merged (new bars and revisions of old
ones alike); when that read fails the symbols' windows are dropped.

The fence. marketdata's gate calls CheckBatch *before* it commits a batch, so a check must see
every batch committed before it. The caller sends a fence (`min_ingestion_time`: marketdata's
latest announced knowledge time); the window serves a check only once it has applied the
notices up to the fence, waiting at most `fence_timeout_s`. It reads through the fallback source
(marketdata) instead when:

- the request carries no fence (nothing proves the window current; the read is);
- the stream is down or the notices do not reach the fence in time;
- the window is off (`max_bars` 0).

Symbols that are not cached, or whose window does not reach back far enough, are read (one read
for all of them) and the read fills their windows. A read becomes a window only when it is
provably complete: no notice seen so far put a bar of the symbol at or after the read's end
(`frontier`), and no notice touched the symbol while the read ran. A symbol that no notice ever
named has no bars at all (the stream replays marketdata's batch log from its beginning), so it
needs no read. Refits and other unfenced reads go straight to the fallback.

Memory is bounded by `max_bars` over all windows (least recently used windows go first); each
window is trimmed to the lookback it was filled for as new bars arrive. Per symbol a couple of
integers (the latest bar time any notice named, the last notice that touched it) are kept for
every symbol ever announced.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency
from services.marketdata.domain.store import BatchNotice
from services.quality.domain.calendar import lookback_start
from services.quality.domain.history import HistorySource
from services.runtime.errors import NotFound, OutOfRange, QuantmeshError
from services.runtime.time_convert import ensure_utc

log = logging.getLogger("quantmesh.quality.warm_history")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Exact epoch microseconds of a datetime (naive ones are UTC)."""
    return (ensure_utc(value) - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class BarReader(Protocol):
    async def read_bars(
        self, symbols: Sequence[str], frequency: Frequency, start: datetime, end: datetime
    ) -> pa.Table:
        """Bars (BAR_SCHEMA, by symbol then time) of `symbols` in [start, end) as stored now.
        NotFound or OutOfRange when the store has none of them or nothing in the range."""
        ...


class IngestSource(Protocol):
    def watch_ingests(
        self, after: datetime | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        """Committed batches after `after` (replayed), then live ones; None is a heartbeat."""
        ...


@dataclass
class WarmStats:
    """Counters since start, per symbol requested unless said otherwise."""

    hits: int = 0  # served from a window
    empty: int = 0  # never announced: no bars, no read
    reads: int = 0  # read because not cached (or not far enough back)
    fills: int = 0  # windows stored from those reads
    read_through: int = 0  # requests (calls) without a fence, read from marketdata
    fallbacks: int = 0  # fenced requests (calls) read from marketdata: fence not reached, ...
    refreshes: int = 0  # windows updated by a notice
    invalidations: int = 0  # windows dropped because their refresh read failed
    evictions: int = 0  # windows dropped for the bar budget
    notices: int = 0  # notices applied


@dataclass
class _Symbol:
    frontier: int  # latest bar time (µs) any notice named for the symbol
    touched: int  # sequence number of the last notice that named it


@dataclass
class _Window:
    start: int  # µs: every stored bar at or after this time is in `bars`
    lookback: int  # sessions the window was filled for; trimming keeps that much
    times: np.ndarray  # int64 µs, ascending
    bars: pa.Table  # BAR_SCHEMA rows of one symbol, by time


class WarmHistory:
    """A HistorySource that serves fenced requests from warm windows, see the module doc."""

    def __init__(
        self,
        fallback: HistorySource,
        reader: BarReader,
        *,
        max_bars: int = 1_000_000,
        fence_timeout_s: float = 0.25,
    ) -> None:
        self.fallback = fallback
        self.reader = reader
        self.max_bars = max_bars
        self.fence_timeout_s = fence_timeout_s
        self.stats = WarmStats()
        self._windows: OrderedDict[tuple[Frequency, str], _Window] = OrderedDict()
        self._symbols: dict[tuple[Frequency, str], _Symbol] = {}
        self._bars = 0
        self._seq = 0
        self._position: datetime | None = None
        self._connected = False
        self._changed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.max_bars > 0

    @property
    def position(self) -> datetime | None:
        """Knowledge time of the latest notice applied: every earlier one is applied too."""
        return self._position

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def cached_bars(self) -> int:
        return self._bars

    def cached_symbols(self, frequency: Frequency) -> list[str]:
        return sorted(s for f, s in self._windows if f is frequency)

    # -- the ingest stream -------------------------------------------------------------------

    def stream_up(self) -> None:
        """The ingest stream delivers again (a message arrived)."""
        if not self._connected:
            self._connected = True
            self._notify()

    def stream_down(self) -> None:
        """The ingest stream ended: fenced requests stop waiting for it."""
        if self._connected:
            self._connected = False
            self._notify()

    async def apply(self, notice: BatchNotice) -> None:
        """Apply one committed batch (notices come in knowledge-time order): re-read its
        changed range for the cached symbols it names and merge it, then advance."""
        self.stats.notices += 1
        if notice.first_time is not None and notice.last_time is not None and notice.symbols:
            self._seq += 1
            first, last = to_micros(notice.first_time), to_micros(notice.last_time)
            stale: list[str] = []
            for symbol in notice.symbols:
                key = (notice.frequency, symbol)
                state = self._symbols.get(key)
                if state is None:
                    self._symbols[key] = _Symbol(last, self._seq)
                else:
                    state.frontier = max(state.frontier, last)
                    state.touched = self._seq
                window = self._windows.get(key)
                if window is not None and last >= window.start:
                    stale.append(symbol)
            if stale:
                await self._refresh(stale, notice.frequency, first, last)
        if self._position is None or notice.ingested_at > self._position:
            self._position = notice.ingested_at
        self._notify()

    async def _refresh(
        self, symbols: list[str], frequency: Frequency, first: int, last: int
    ) -> None:
        low = max(first, min(self._windows[(frequency, s)].start for s in symbols))
        try:
            bars = await self.reader.read_bars(
                symbols, frequency, from_micros(low), from_micros(last + 1)
            )
        except Exception as exc:  # marketdata unreachable: forget, the next check re-reads
            log.warning("refreshing %d windows failed (%s); dropping them", len(symbols), exc)
            for symbol in symbols:
                if self._drop((frequency, symbol)):
                    self.stats.invalidations += 1
            return
        live = [
            (s, self._windows[(frequency, s)]) for s in symbols if (frequency, s) in self._windows
        ]
        if live:  # (some may have been evicted while the read ran)
            self._merge(frequency, live, bars.select(BAR_SCHEMA.names), low, last)
            self.stats.refreshes += len(live)

    def _merge(
        self,
        frequency: Frequency,
        live: list[tuple[str, _Window]],
        fresh: pa.Table,
        low: int,
        last: int,
    ) -> None:
        """Replace the windows' bars in [low, last] with the `fresh` ones, then trim each to its
        lookback. One pass over all the windows: a notice names hundreds of symbols."""
        names = pa.array([symbol for symbol, _ in live], pa.string())
        starts = np.array([w.start for _, w in live], dtype=np.int64)
        old_times = np.concatenate([w.times for _, w in live])
        old_owner = np.repeat(np.arange(len(live)), [len(w.times) for _, w in live])
        kept = (old_times < low) | (old_times > last)
        owner = pc.index_in(fresh.column("symbol"), value_set=names).fill_null(-1)
        new_owner = np.asarray(owner.to_numpy(), dtype=np.int64)
        new_times = _micros(fresh)
        taken = new_owner >= 0
        taken[taken] = new_times[taken] >= starts[new_owner[taken]]
        table = pa.concat_tables(
            [*(w.bars for _, w in live), fresh.filter(pa.array(taken))]
        ).combine_chunks()
        times = np.concatenate([old_times, new_times[taken]])
        owners = np.concatenate([old_owner, new_owner[taken]])
        rows = np.flatnonzero(np.concatenate([kept, np.ones(int(taken.sum()), dtype=bool)]))
        order = rows[np.lexsort((times[rows], owners[rows]))]
        table, times, owners = table.take(pa.array(order)), times[order], owners[order]
        ends = np.cumsum(np.bincount(owners, minlength=len(live)))
        floors: dict[tuple[int, int], int] = {}
        begin = 0
        for i, (symbol, window) in enumerate(live):
            end, start = int(ends[i]), window.start
            if end > begin:  # trim to what a check after the newest bar needs
                need = (int(times[end - 1]), window.lookback)
                if need not in floors:
                    after = from_micros(need[0] + 1)
                    floors[need] = to_micros(lookback_start(after, window.lookback))
                if floors[need] > start:
                    start = floors[need]
            cut = begin + int(np.searchsorted(times[begin:end], start, side="left"))
            self._put(
                (frequency, symbol),
                _Window(start, window.lookback, times[cut:end], table.slice(cut, end - cut)),
            )
            begin = end

    # -- the fence ---------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, fence: datetime, timeout_s: float | None = None) -> bool:
        """Whether every notice up to `fence` is applied, waiting while the stream is up for at
        most `timeout_s` (default `fence_timeout_s`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.fence_timeout_s if timeout_s is None else timeout_s)
        while self._position is None or self._position < fence:
            remaining = deadline - loop.time()
            if not self._connected or remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    # -- reads -------------------------------------------------------------------------------

    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table:
        if min_ingestion_time is None or not self.enabled:
            self.stats.read_through += 1
            return await self.fallback.history(symbols, frequency, before, lookback_sessions)
        if not await self.wait_for(ensure_utc(min_ingestion_time)):
            self.stats.fallbacks += 1
            return await self.fallback.history(
                symbols, frequency, before, lookback_sessions, min_ingestion_time=min_ingestion_time
            )
        before = ensure_utc(before)
        start = lookback_start(before, lookback_sessions)
        start_us, before_us = to_micros(start), to_micros(before)
        parts: list[pa.Table] = []
        missing: list[str] = []
        for symbol in sorted(set(symbols)):
            key = (frequency, symbol)
            if key not in self._symbols:
                self.stats.empty += 1
                continue
            window = self._windows.get(key)
            if window is None or window.start > start_us:
                missing.append(symbol)
                continue
            self._windows.move_to_end(key)
            self.stats.hits += 1
            lo = int(np.searchsorted(window.times, start_us, side="left"))
            hi = int(np.searchsorted(window.times, before_us, side="left"))
            if hi > lo:
                parts.append(window.bars.slice(lo, hi - lo))
        if missing:
            read = await self._fill(missing, frequency, before, lookback_sessions, start)
            if read is None:  # marketdata lacks some of them: its fallback path knows better
                read = await self.fallback.history(
                    missing, frequency, before, lookback_sessions,
                    min_ingestion_time=min_ingestion_time,
                )  # fmt: skip
            parts.append(read.select(BAR_SCHEMA.names))
        if not parts:
            return BAR_SCHEMA.empty_table()
        table = pa.concat_tables(parts)
        if missing and len(parts) > 1:
            table = table.sort_by([("symbol", "ascending"), ("time", "ascending")])
        return table.combine_chunks()

    async def _fill(
        self,
        symbols: list[str],
        frequency: Frequency,
        before: datetime,
        lookback: int,
        start: datetime,
    ) -> pa.Table | None:
        """Read `symbols` in [start, before); keep the provably complete ones as windows.
        None when marketdata does not have them in that range (the fallback knows better)."""
        self.stats.reads += len(symbols)
        seq = self._seq
        try:
            bars = await self.reader.read_bars(symbols, frequency, start, before)
        except (NotFound, OutOfRange):
            self.stats.fallbacks += 1
            return None
        bars = bars.select(BAR_SCHEMA.names).combine_chunks()
        start_us, before_us = to_micros(start), to_micros(before)
        times = _micros(bars)
        runs = _runs(bars)
        for symbol in symbols:
            key = (frequency, symbol)
            state = self._symbols.get(key)
            if state is None or state.touched > seq or state.frontier >= before_us:
                continue  # a notice named it meanwhile, or bars at/after `before` may exist
            begin, end = runs.get(symbol, (0, 0))
            window = _Window(start_us, lookback, times[begin:end], bars.slice(begin, end - begin))
            self._put(key, window)
            self.stats.fills += 1
        return bars

    # -- memory ------------------------------------------------------------------------------

    def _put(self, key: tuple[Frequency, str], window: _Window) -> None:
        self._drop(key)
        size = window.bars.num_rows
        if size > self.max_bars:
            return
        self._windows[key] = window
        self._bars += size
        while self._bars > self.max_bars:
            _, evicted = self._windows.popitem(last=False)
            self._bars -= evicted.bars.num_rows
            self.stats.evictions += 1

    def _drop(self, key: tuple[Frequency, str]) -> bool:
        window = self._windows.pop(key, None)
        if window is None:
            return False
        self._bars -= window.bars.num_rows
        return True

    # -- following marketdata ----------------------------------------------------------------

    async def follow_ingests(
        self,
        source: IngestSource,
        heartbeat_s: float = 1.0,
        retry_s: float = 0.05,
        max_retry_s: float = 2.0,
    ) -> None:
        """Forever: replay marketdata's batch log from its beginning (or after the last notice
        applied, on a reconnect), then apply live notices. Reconnects with backoff."""
        delay = retry_s
        while True:
            try:
                async for notice in source.watch_ingests(self._position or _EPOCH, heartbeat_s):
                    self.stream_up()
                    delay = retry_s
                    if notice is not None:
                        await self.apply(notice)
            except asyncio.CancelledError:
                self.stream_down()
                raise
            except QuantmeshError as exc:
                log.info("ingest watch ended (%s); reconnecting in %.2fs", exc.message, delay)
            except Exception:
                log.exception("warm history follower failed; reconnecting in %.2fs", delay)
            self.stream_down()
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_s)


def _micros(bars: pa.Table) -> np.ndarray:
    return np.asarray(bars.column("time").cast(pa.int64()).to_numpy(), dtype=np.int64)


def _runs(bars: pa.Table) -> dict[str, tuple[int, int]]:
    """Row range [begin, end) of every symbol of a table sorted by symbol."""
    if bars.num_rows == 0:
        return {}
    runs = pc.run_end_encode(bars.column("symbol").combine_chunks())
    ends = [int(e) for e in runs.run_ends.to_numpy()]
    return {
        symbol: (begin, end)
        for symbol, begin, end in zip(runs.values.to_pylist(), [0, *ends[:-1]], ends, strict=True)
    }
