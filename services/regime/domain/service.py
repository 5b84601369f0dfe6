"""Regimes: the regime service's domain facade (no gRPC).

- fit: fit a model on symbols' daily bars over a window, record it, move an alias.
- classify: one symbol at one date, through the MongoDB cache (revision-checked).
- history: many symbols over a range, computed in one vectorized pass.
- watch: regime-change streams per model version, logged so they resume without loss.
- follow_ingests: the background loop that keeps the revision index current and logs changes.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.store import BatchNotice
from services.regime.domain.bar_port import DailyBarSource
from services.regime.domain.cache import (
    CachedRegime,
    CacheState,
    CacheStats,
    RegimeCache,
    cache_key,
)
from services.regime.domain.change_log import (
    Followed,
    RegimeChangeBatch,
    RegimeChangeLog,
    RegimeChangeRow,
)
from services.regime.domain.features import WARMUP_BARS
from services.regime.domain.model import (
    Classified,
    DailySeries,
    FitSettings,
    RegimeModel,
    classify_series,
    fit_regimes,
)
from services.regime.domain.model_store import RegimeModelStore
from services.regime.domain.regimes import REGIMES, Regime
from services.regime.domain.revisions import RevisionIndex
from services.runtime.errors import InvalidArgument, OutOfRange, QuantmeshError
from services.runtime.log_streams import Subscription, SubscriptionHub
from services.runtime.model_refs import CHAMPION, ModelRef

log = logging.getLogger(__name__)

#: The model name when a request names none.
DEFAULT_MODEL = "market"
MAX_FIT_SYMBOLS = 100
MAX_SYMBOLS = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("regime", pa.string(), nullable=False),
        *[pa.field(r.column, pa.float64(), nullable=False) for r in REGIMES],
    ]
)


@dataclass(frozen=True)
class Classification:
    symbol: str
    bar_time: datetime
    regime: Regime
    probabilities: tuple[float, ...]  # REGIMES order
    model: RegimeModel
    cached: bool
    #: How the cache took part: "hit", "miss", "stale" (revised), "bypass" (degraded or off).
    cache_outcome: str
    elapsed_s: float


@dataclass(frozen=True)
class RegimeCacheReport:
    stats: CacheStats
    ingest_watermark: datetime | None


def model_key(model: RegimeModel) -> str:
    return f"{model.name}/{model.version}"


def _day(t: datetime) -> str:
    return t.astimezone(UTC).date().isoformat()


def _check_symbols(symbols: Sequence[str], limit: int) -> list[str]:
    if not symbols:
        raise InvalidArgument.for_field("symbols", "give at least one symbol")
    if len(symbols) > limit:
        raise InvalidArgument.for_field("symbols", f"{len(symbols)} symbols; at most {limit}")
    cleaned = [s.strip().upper() for s in symbols]
    for i, s in enumerate(cleaned):
        if not s:
            raise InvalidArgument.for_field(f"symbols[{i}]", "is empty")
    return list(dict.fromkeys(cleaned))


def _check_symbol(symbol: str) -> str:
    cleaned = symbol.strip().upper()
    if not cleaned:
        raise InvalidArgument.for_field("symbol", "is required")
    return cleaned


class Regimes:
    def __init__(
        self,
        bars: DailyBarSource,
        models: RegimeModelStore,
        cache: RegimeCache,
        changes: RegimeChangeLog,
        *,
        max_history_rows: int = 2_000_000,
        queue_size: int = 256,
        fill_sessions: int = 63,
    ) -> None:
        self.bars = bars
        self.models = models
        self.cache = cache
        self.changes = changes
        self.revisions = RevisionIndex()
        self.max_history_rows = max_history_rows
        self.fill_sessions = fill_sessions
        self.hub: SubscriptionHub[RegimeChangeBatch] = SubscriptionHub(
            changes, queue_size=queue_size, service="the regime service"
        )

    # -- models ------------------------------------------------------------------------------

    async def fit(
        self,
        name: str,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
        alias: str = CHAMPION,
        switch_probability: float = 0.0,
    ) -> tuple[RegimeModel, bool]:
        name = name.strip() or DEFAULT_MODEL
        wanted = _check_symbols(symbols, MAX_FIT_SYMBOLS)
        if start is not None and end is not None and start > end:
            raise InvalidArgument.for_field("training_window", "start is after end")
        settings = FitSettings(switch_probability=switch_probability or 0.8)
        watermark = self.revisions.watermark
        series = await self.bars.daily_series(wanted)
        fit = await asyncio.to_thread(fit_regimes, series, start, end, settings)
        return await asyncio.to_thread(self.models.record, name, fit, watermark, alias or CHAMPION)

    def list_models(self, name: str, offset: int, limit: int) -> list[RegimeModel]:
        return self.models.list(name.strip(), offset, limit)

    # -- classification ----------------------------------------------------------------------

    async def classify(self, symbol: str, at: datetime | None, ref: ModelRef) -> Classification:
        started = time.perf_counter()
        symbol = _check_symbol(symbol)
        model = self.models.resolve(ref)
        key_model = model_key(model)
        stale = False
        if at is not None and self.cache.enabled:
            entry = await self.cache.get(
                cache_key(symbol, _day(at), key_model, model.feature_version)
            )
            if entry is not None and entry.computed_as_of is not None:
                stale = self.revisions.stale(symbol, entry.bar_time, entry.computed_as_of)
                if stale:
                    self.cache.forget(entry.key)
            if entry is not None and not stale:
                elapsed = time.perf_counter() - started
                self.cache.record_hit(elapsed)
                return Classification(
                    symbol,
                    entry.bar_time,
                    Regime(entry.regime),
                    entry.probabilities,
                    model,
                    True,
                    "hit",
                    elapsed,
                )
        usable = self.cache.state is CacheState.HEALTHY
        computed_as_of = self.revisions.watermark
        (series,) = await self.bars.daily_series([symbol])
        (result,) = await asyncio.to_thread(classify_series, model.fit, [series])
        index = _bar_index(result, at)
        entries = self._entries(result, index, model, computed_as_of)
        if at is not None and _day(at) != _day(result.times[index]):
            entries.append(_entry(result, index, _day(at), model, computed_as_of))
        self.cache.put_later(entries)
        elapsed = time.perf_counter() - started
        outcome = "stale" if stale else ("miss" if usable else "bypass")
        if self.cache.enabled:
            self.cache.record_miss(elapsed, invalidated=stale)
        return Classification(
            symbol,
            result.times[index],
            Regime(int(result.labels[index])),
            tuple(float(p) for p in result.probabilities[index]),
            model,
            False,
            outcome,
            elapsed,
        )

    def _entries(
        self,
        result: Classified,
        index: int,
        model: RegimeModel,
        computed_as_of: datetime | None,
    ) -> list[CachedRegime]:
        """Cache entries for the bars around `index`: neighbours are the likely next asks, and
        one compute answers them all."""
        lo = max(WARMUP_BARS - 1, index - self.fill_sessions)
        hi = min(len(result.times), index + self.fill_sessions + 1)
        return [
            _entry(result, i, _day(result.times[i]), model, computed_as_of) for i in range(lo, hi)
        ]

    # -- history -----------------------------------------------------------------------------

    async def history(
        self,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
        ref: ModelRef,
    ) -> tuple[RegimeModel, pa.Table]:
        wanted = _check_symbols(symbols, MAX_SYMBOLS)
        if start is not None and end is not None and start > end:
            raise InvalidArgument.for_field("time_range", "start is after end")
        model = self.models.resolve(ref)
        series = await self.bars.daily_series(wanted)
        last = max(s.times[-1] for s in series if s.times)
        if start is not None and start > last:
            raise OutOfRange(
                f"time_range starts {start.date()}, after the last bar ({last.date()})",
                metadata={"start": start.isoformat(), "last_bar": last.isoformat()},
            )
        rows = sum(_count_in(s.times, start, end) for s in series)
        if rows > self.max_history_rows:
            raise InvalidArgument(
                f"time_range: {rows} rows for {len(series)} symbols is more than "
                f"{self.max_history_rows} in one call; split the symbols or the range",
                reason="RANGE_TOO_LARGE",
                metadata={"rows": str(rows), "limit": str(self.max_history_rows)},
                violations=[],
            )
        table = await asyncio.to_thread(_history_table, model, series, start, end)
        return model, table

    # -- watching ----------------------------------------------------------------------------

    async def watch(
        self,
        symbols: Sequence[str],
        ref: ModelRef,
        resume_after: int | None,
    ) -> tuple[RegimeModel, RegimeChangeBatch | None, Subscription[RegimeChangeBatch]]:
        """Follow `symbols` under the model `ref` names; returns the model, the opening
        snapshot (when not resuming) and the subscription."""
        wanted = _check_symbols(symbols, MAX_SYMBOLS)
        model = self.models.resolve(ref)
        stream = model_key(model)
        series = await self.bars.daily_series(wanted)
        results = await asyncio.to_thread(classify_series, model.fit, series)
        baseline = [_latest(r) for r in results]
        await asyncio.to_thread(self.changes.follow, stream, baseline)
        subscription = await self.hub.subscribe(stream, wanted, resume_after)
        snapshot = None
        if resume_after is None:
            rows = tuple(
                RegimeChangeRow(
                    r.symbol,
                    r.times[-1],
                    int(r.labels[-1]),
                    0,
                    tuple(float(p) for p in r.probabilities[-1]),
                )
                for r in results
                if r.labels[-1] > 0
            )
            snapshot = RegimeChangeBatch(
                subscription.cursor,
                stream,
                max((r.bar_time for r in rows), default=datetime.now(UTC)),
                datetime.now(UTC),
                rows,
            )
        return model, snapshot, subscription

    async def process_notice(self, notice: BatchNotice, log_changes: bool = True) -> int:
        """Record a committed batch's revisions; log regime changes of followed symbols.

        Returns the number of change batches logged.
        """
        if notice.first_time is None:
            return 0
        self.revisions.record(notice.symbols, notice.first_time, notice.ingested_at)
        if not log_changes or notice.frequency is not Frequency.DAILY:
            return 0
        logged = 0
        for stream, followed in (
            await asyncio.to_thread(self.changes.followed, notice.symbols)
        ).items():
            name, _, version = stream.partition("/")
            model = self.models.resolve(ModelRef(name, version=int(version)))
            series = await self.bars.daily_series([f.symbol for f in followed])
            results = await asyncio.to_thread(classify_series, model.fit, series)
            logged += await self._log_changes(stream, followed, results)
        await asyncio.to_thread(self.changes.set_watermark, notice.ingested_at)
        return logged

    async def _log_changes(
        self, stream: str, followed: Sequence[Followed], results: Sequence[Classified]
    ) -> int:
        by_time: dict[datetime, list[RegimeChangeRow]] = {}
        final: list[Followed] = []
        for f, r in zip(followed, results, strict=True):
            previous = f.last_regime
            start = 0 if f.last_time is None else bisect.bisect_left(r.times, f.last_time)
            for i in range(max(start, WARMUP_BARS - 1), len(r.times)):
                label = int(r.labels[i])
                if label and label != previous:
                    by_time.setdefault(r.times[i], []).append(
                        RegimeChangeRow(
                            r.symbol,
                            r.times[i],
                            label,
                            previous,
                            tuple(float(p) for p in r.probabilities[i]),
                        )
                    )
                    previous = label
            final.append(Followed(r.symbol, r.times[-1] if r.times else None, previous))
        logged = 0
        times = sorted(by_time)
        for n, bar_time in enumerate(times):
            rows = by_time[bar_time]
            updates = final if n == len(times) - 1 else ()
            batch = await self.hub.publish(
                functools.partial(self.changes.append, stream, bar_time, rows, updates)
            )
            logged += batch is not None
        if not times:
            await asyncio.to_thread(self.changes.append, stream, datetime.now(UTC), (), final)
        return logged

    async def follow_ingests(self, heartbeat_s: float = 5.0, retry_s: float = 1.0) -> None:
        """Forever: replay every committed batch (revisions), then follow live ones; log the
        changes of followed symbols for batches after the last one processed."""
        seen: datetime | None = None
        while True:
            processed = await asyncio.to_thread(self.changes.watermark)
            try:
                async for notice in self.bars.watch_ingests(seen or _EPOCH, heartbeat_s):
                    if notice is None:
                        continue
                    fresh = processed is None or notice.ingested_at > processed
                    await self.process_notice(notice, log_changes=fresh)
                    seen = notice.ingested_at
            except asyncio.CancelledError:
                raise
            except QuantmeshError as exc:
                log.info("ingest watch ended (%s); reconnecting in %.1fs", exc.message, retry_s)
            except Exception:
                log.exception("regime ingest follower failed; reconnecting in %.1fs", retry_s)
            await asyncio.sleep(retry_s)

    async def keep_cache_alive(self, interval_s: float = 1.0) -> None:
        """Forever: probe MongoDB while the cache is degraded, so it heals without traffic."""
        while True:
            await asyncio.sleep(interval_s)
            await self.cache.probe()

    def cache_report(self) -> RegimeCacheReport:
        return RegimeCacheReport(self.cache.stats(), self.revisions.watermark)

    async def close(self) -> None:
        await self.hub.close()
        await self.cache.close()


def _latest(result: Classified) -> Followed:
    if not result.times:
        return Followed(result.symbol, None, 0)
    return Followed(result.symbol, result.times[-1], int(result.labels[-1]))


def _entry(
    result: Classified, i: int, day: str, model: RegimeModel, computed_as_of: datetime | None
) -> CachedRegime:
    return CachedRegime(
        symbol=result.symbol,
        day=day,
        bar_time=result.times[i],
        model=model_key(model),
        feature_version=model.feature_version,
        regime=int(result.labels[i]),
        probabilities=tuple(float(p) for p in result.probabilities[i]),
        computed_as_of=computed_as_of,
    )


def _bar_index(result: Classified, at: datetime | None) -> int:
    """The bar answering `at` (the latest at or before its day); OutOfRange outside the data."""
    times = result.times
    first_ok = WARMUP_BARS - 1
    if len(times) <= first_ok:
        raise OutOfRange(
            f"{result.symbol} has {len(times)} daily bars; the regime needs {WARMUP_BARS} "
            "for its warm-up",
            reason="BEFORE_WARMUP",
            metadata={"symbol": result.symbol, "bars": str(len(times))},
        )
    if at is None:
        return len(times) - 1
    day = at.astimezone(UTC).date()
    if day > times[-1].date():
        raise OutOfRange(
            f"time: {day} is after the last {result.symbol} bar ({times[-1].date()})",
            reason="AFTER_DATA",
            metadata={"symbol": result.symbol, "last_bar": times[-1].isoformat()},
        )
    end_of_day = datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1)
    index = bisect.bisect_left(times, end_of_day) - 1
    if index < first_ok:
        raise OutOfRange(
            f"time: {day} is before the model's warm-up; the first {result.symbol} date with a "
            f"regime is {times[first_ok].date()}",
            reason="BEFORE_WARMUP",
            metadata={"symbol": result.symbol, "first_date": times[first_ok].isoformat()},
        )
    return index


def _count_in(times: Sequence[datetime], start: datetime | None, end: datetime | None) -> int:
    lo = 0 if start is None else bisect.bisect_left(times, start)
    hi = len(times) if end is None else bisect.bisect_right(times, end)
    return max(hi - max(lo, WARMUP_BARS - 1), 0)


def _history_table(
    model: RegimeModel,
    series: Sequence[DailySeries],
    start: datetime | None,
    end: datetime | None,
) -> pa.Table:
    results = classify_series(model.fit, series)
    names = np.array([""] + [r.name for r in REGIMES], dtype=object)
    parts = []
    for r in results:
        lo = max(WARMUP_BARS - 1, 0 if start is None else bisect.bisect_left(r.times, start))
        hi = len(r.times) if end is None else bisect.bisect_right(r.times, end)
        if hi <= lo:
            continue
        columns: dict[str, object] = {
            "symbol": pa.array([r.symbol] * (hi - lo), pa.string()),
            "time": pa.array(r.times[lo:hi], pa.timestamp("us", tz="UTC")),
            "regime": pa.array(names[r.labels[lo:hi]], pa.string()),
        }
        for j, regime in enumerate(REGIMES):
            columns[regime.column] = pa.array(r.probabilities[lo:hi, j], pa.float64())
        parts.append(pa.table(columns, schema=HISTORY_SCHEMA))
    return pa.concat_tables(parts) if parts else HISTORY_SCHEMA.empty_table()
