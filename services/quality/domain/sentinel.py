"""The Sentinel: the data-quality service's domain facade.

- `check_batch(bars, history)`: every check on a batch given its symbols' prior bars (pure,
  synchronous, uses whatever models are cached).
- `inspect(bars, frequency, ...)`: what the ingest gate calls: fetches the history from the
  HistorySource, checks off the event loop, decides (quarantine CRITICAL unless forced), stores
  the events with that decision, wakes the webhook worker and schedules due model refits.
- `score_series(times, values)`: any timestamped numeric series, operational metrics too.
- events: `list_events`, `acknowledge`, `summary` (async, off the event loop).
- models: `fit_models(history)` and `refresh_models(symbols)` (fits run in the trainer's pool).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import Frequency, normalize_bars
from services.quality.domain.calendar import DAY_US
from services.quality.domain.checker import max_severity, run_checks
from services.quality.domain.config import ModelConfig, RuleConfig
from services.quality.domain.delivery import WebhookDispatcher
from services.quality.domain.event_store import EventStore
from services.quality.domain.events import DataQualityEvent, EventFilter, EventPage, QualitySummary
from services.quality.domain.history import HistorySource
from services.quality.domain.models import ModelCache
from services.quality.domain.report import BatchReport, IngestDecision, decide, verdict_for
from services.quality.domain.series import (
    DEFAULT_MIN_HISTORY,
    DEFAULT_WINDOW,
    SERIES_LEVELS,
    SeriesScores,
    Times,
    Values,
    score_series,
)
from services.quality.domain.training import FitReport, ModelTrainer
from services.runtime.errors import FailedPrecondition, InvalidArgument

BARS_PER_SESSION = {Frequency.DAILY: 1, Frequency.MINUTE: 390}


@dataclass(frozen=True)
class SentinelConfig:
    """Rule thresholds per frequency and the learned models' settings."""

    daily: RuleConfig = field(default_factory=lambda: RuleConfig.for_frequency(Frequency.DAILY))
    minute: RuleConfig = field(default_factory=lambda: RuleConfig.for_frequency(Frequency.MINUTE))
    models: ModelConfig = field(default_factory=ModelConfig)

    def rules(self, frequency: Frequency) -> RuleConfig:
        return self.daily if frequency is Frequency.DAILY else self.minute

    def lookback_sessions(self, frequency: Frequency) -> int:
        """Sessions of history a check needs: the trailing window, plus a few for gaps."""
        bars = self.rules(frequency).window
        return math.ceil(bars / BARS_PER_SESSION[frequency]) + 5


@dataclass(frozen=True)
class Inspection:
    """A checked batch, what was decided about it and the events stored."""

    report: BatchReport
    decision: IngestDecision
    events: list[DataQualityEvent]
    refit_scheduled: bool

    @property
    def summary(self) -> str:
        """One line for the ingest response: the report's summary and the decision."""
        return f"{self.report.summary()}; {self.decision.value}"

    @property
    def event_ids(self) -> list[str]:
        return [event.id for event in self.events]


class Sentinel:
    """See the module doc. Everything but `check_batch` and `score_series` is async."""

    def __init__(
        self,
        *,
        config: SentinelConfig | None = None,
        models: ModelCache | None = None,
        trainer: ModelTrainer | None = None,
        history: HistorySource | None = None,
        events: EventStore | None = None,
        dispatcher: WebhookDispatcher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config or SentinelConfig()
        self.models = models if models is not None else (trainer.cache if trainer else ModelCache())
        self.trainer = trainer or ModelTrainer(self.models, self.config.models, self.config.rules)
        self.history = history
        self.events = events
        self.dispatcher = dispatcher
        self.clock = clock

    def check_batch(
        self,
        bars: pa.Table,
        history: pa.Table | None = None,
        *,
        frequency: Frequency = Frequency.DAILY,
        batch_id: str | None = None,
    ) -> BatchReport:
        """Check a batch (BAR_SCHEMA, any order, any number of symbols) against the symbols'
        earlier bars in `history`. InvalidArgument for an empty batch or missing columns."""
        began = time.perf_counter()
        now = self.clock()
        outcome = run_checks(
            bars,
            history,
            frequency,
            self.config.rules(frequency),
            self.models,
            self.config.models,
            now,
        )
        worst = max_severity(outcome.row_severities)
        return BatchReport(
            batch_id=batch_id or uuid.uuid4().hex,
            frequency=frequency,
            rows=bars.num_rows,
            symbols=tuple(outcome.symbols),
            findings=tuple(outcome.findings),
            assessments=tuple(outcome.assessments),
            row_scores=outcome.row_scores,
            row_severities=outcome.row_severities,
            max_severity=worst,
            verdict=verdict_for(worst),
            models=outcome.usage,
            notes=tuple(outcome.notes),
            checked_at=now,
            elapsed_s=time.perf_counter() - began,
        )

    async def fetch_history(
        self,
        bars: pa.Table,
        frequency: Frequency,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table | None:
        """The prior bars of the batch's symbols from the HistorySource (one call per distinct
        first time, so every symbol's history ends right before its first batch bar), fenced
        at `min_ingestion_time` when given (see `HistorySource.history`)."""
        if self.history is None:
            return None
        table = normalize_bars(bars)
        table = table.filter(
            pc.and_(pc.is_valid(table.column("symbol")), pc.is_valid(table.column("time")))
        )
        if table.num_rows == 0:
            return None
        firsts = table.group_by("symbol").aggregate([("time", "min")])
        by_start: dict[datetime, list[str]] = {}
        for symbol, first in zip(
            firsts.column("symbol").to_pylist(), firsts.column("time_min").to_pylist(), strict=True
        ):
            by_start.setdefault(first, []).append(symbol)
        lookback = self.config.lookback_sessions(frequency)
        parts = await asyncio.gather(
            *(
                self.history.history(
                    sorted(symbols),
                    frequency,
                    before,
                    lookback,
                    min_ingestion_time=min_ingestion_time,
                )
                for before, symbols in sorted(by_start.items())
            )
        )
        tables = [normalize_bars(p) for p in parts if p.num_rows]
        return pa.concat_tables(tables) if tables else None

    async def inspect(
        self,
        bars: pa.Table,
        frequency: Frequency = Frequency.DAILY,
        *,
        batch_id: str | None = None,
        source: str = "",
        force: bool = False,
        record: bool = True,
        decision: IngestDecision | None = None,
        min_ingestion_time: datetime | None = None,
    ) -> Inspection:
        """Check a batch with its history from the HistorySource; decide; store the events.

        The decision is `decision` when given (CHECKED for a check-only request), else
        quarantine on a CRITICAL verdict unless `force`, commit otherwise. The history
        reflects every batch committed up to `min_ingestion_time` when it is given (the fence
        marketdata's gate sends).
        """
        if bars.num_rows == 0:
            raise InvalidArgument.for_field("bars", "the batch has no rows")
        table = normalize_bars(bars)
        history = await self.fetch_history(table, frequency, min_ingestion_time=min_ingestion_time)
        report = await asyncio.to_thread(
            self.check_batch, table, history, frequency=frequency, batch_id=batch_id
        )
        chosen = decision or decide(report.verdict, force)
        stored: list[DataQualityEvent] = []
        if record and self.events is not None:
            stored = await asyncio.to_thread(self.events.record, report, chosen, source)
            if self.dispatcher is not None and stored:
                self.dispatcher.wake()
        scheduled = False
        if self.history is not None and report.symbols:
            first, last = _time_span(table)
            task = self.trainer.schedule(
                self.history, list(report.symbols), frequency, last // DAY_US, before=first
            )
            scheduled = task is not None
        return Inspection(report, chosen, stored, scheduled)

    def score_series(
        self,
        times: Times,
        values: Values,
        *,
        window: int = DEFAULT_WINDOW,
        min_history: int = DEFAULT_MIN_HISTORY,
        name: str = "value",
    ) -> SeriesScores:
        """Score every point of any timestamped series against the points before it; `name`
        words the reasons (e.g. "ingest_latency_ms")."""
        return score_series(
            times, values, window=window, min_history=min_history, levels=SERIES_LEVELS, name=name
        )

    async def fit_models(
        self, history: pa.Table, frequency: Frequency = Frequency.DAILY
    ) -> FitReport:
        """Fit every enabled model from `history` (in the trainer's pool) and cache them."""
        return await self.trainer.fit(history, frequency)

    async def refresh_models(
        self,
        symbols: Sequence[str],
        frequency: Frequency = Frequency.DAILY,
        *,
        force: bool = True,
        before: datetime | None = None,
    ) -> FitReport:
        """Refit `symbols` now from the HistorySource (only the due ones unless `force`); no
        symbols: every symbol with a cached model of `frequency`."""
        if self.history is None:
            raise FailedPrecondition("no history source is configured to fit models from")
        wanted = list(symbols) or self.models.symbols(frequency)
        return await self.trainer.refresh(
            self.history, wanted, frequency, force=force, before=before
        )

    def _store(self) -> EventStore:
        if self.events is None:
            raise FailedPrecondition("no event store is configured")
        return self.events

    async def list_events(
        self, filters: EventFilter | None = None, page_size: int = 0, page_token: str = ""
    ) -> EventPage:
        return await asyncio.to_thread(self._store().list_events, filters, page_size, page_token)

    async def acknowledge(self, event_id: str, by: str = "") -> DataQualityEvent:
        return await asyncio.to_thread(self._store().acknowledge, event_id, by)

    async def summary(
        self, start: datetime | None = None, end: datetime | None = None, latest: int = 10
    ) -> QualitySummary:
        return await asyncio.to_thread(self._store().summary, start, end, latest)

    async def aclose(self) -> None:
        """Stop the webhook worker and background fits."""
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.trainer.aclose()


def _time_span(bars: pa.Table) -> tuple[datetime, int]:
    """The first bar time of a normalised table and its last in epoch microseconds."""
    times = bars.column("time").drop_null()
    first = pc.min(times).as_py()
    last = pc.max(times.cast(pa.int64())).as_py()
    return first or datetime.now(UTC), int(last or 0)
