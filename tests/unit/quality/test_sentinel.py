"""The Sentinel facade: the ingest gate's view (history, decision, events) and its limits."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.synthetic import generate_market
from services.quality.domain.config import ModelConfig, ProphetConfig
from services.quality.domain.event_store import EventStore
from services.quality.domain.events import EventFilter
from services.quality.domain.findings import Check, Severity
from services.quality.domain.history import InMemoryHistory
from services.quality.domain.report import IngestDecision, Verdict
from services.quality.domain.sentinel import Sentinel, SentinelConfig
from services.runtime.errors import FailedPrecondition, InvalidArgument
from tests.unit.quality.helpers import drop, edit, market, row, split_last, times

NO_PROPHET = SentinelConfig(models=ModelConfig(prophet=ProphetConfig(enabled=False)))


class CountingHistory(InMemoryHistory):
    def __init__(self, bars: pa.Table) -> None:
        super().__init__(bars)
        self.requests: list[tuple[tuple[str, ...], datetime, int]] = []

    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table:
        self.requests.append((tuple(symbols), before, lookback_sessions))
        return await super().history(symbols, frequency, before, lookback_sessions)


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    return market(symbols=5, days=220, seed=5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    connection = duckdb.connect(str(tmp_path / "q.duckdb"))
    yield EventStore(connection, min_severity=Severity.MEDIUM)
    connection.close()


def split_day(batch: pa.Table, day: int, price: float) -> pa.Table:
    bar = row(batch, "SYN002", day)
    return edit(
        batch, "SYN002", day, **{k: bar[k] * price for k in ("open", "high", "low", "close")}
    )


async def test_a_critical_batch_is_quarantined_and_its_events_stored(
    bars: pa.Table, store: EventStore
) -> None:
    history, batch = split_last(bars)
    source = CountingHistory(history)
    sentinel = Sentinel(config=NO_PROPHET, history=source, events=store)
    day = int(times(bars)[-1])
    inspection = await sentinel.inspect(split_day(batch, day, 0.5), source="vendor")
    assert inspection.report.verdict is Verdict.QUARANTINE
    assert inspection.decision is IngestDecision.QUARANTINED
    assert "verdict quarantine; quarantined" in inspection.summary
    [event] = inspection.events
    assert event.symbol == "SYN002" and event.check is Check.SPLIT_JUMP
    assert event.decision is IngestDecision.QUARANTINED
    assert inspection.event_ids == [event.id]
    page = await sentinel.list_events(EventFilter(symbol="SYN002"))
    assert [e.id for e in page.events] == [event.id]
    acknowledged = await sentinel.acknowledge(event.id)
    assert acknowledged.acknowledged_at is not None
    assert (await sentinel.summary()).quarantined_batches == 1
    symbols, _, lookback = source.requests[0]  # the check's; a background refit follows
    assert symbols == tuple(f"SYN00{i}" for i in range(1, 6)) and lookback >= 126
    await sentinel.aclose()


async def test_a_forced_ingest_commits_and_says_so(bars: pa.Table, store: EventStore) -> None:
    history, batch = split_last(bars)
    sentinel = Sentinel(config=NO_PROPHET, history=InMemoryHistory(history), events=store)
    forced = await sentinel.inspect(split_day(batch, int(times(bars)[-1]), 0.5), force=True)
    assert forced.decision is IngestDecision.FORCED
    assert forced.events[0].decision is IngestDecision.FORCED
    clean = await sentinel.inspect(batch, force=True)
    assert clean.decision is IngestDecision.COMMITTED and clean.report.verdict is Verdict.PASS
    await sentinel.aclose()


async def test_history_ends_right_before_each_symbols_first_bar(bars: pa.Table) -> None:
    """A symbol whose batch starts later gets its history up to its own first bar: no false gap."""
    stamps = times(bars)
    history, batch = split_last(bars, 3)
    late = drop(drop(batch, "SYN004", int(stamps[-3])), "SYN004", int(stamps[-2]))
    complete = pa.concat_tables(
        [history, bars.filter(pa.compute.equal(bars.column("symbol"), "SYN004")).slice(0, 0)]
    )
    source = CountingHistory(pa.concat_tables([complete, split_last(bars, 1)[0]]))
    sentinel = Sentinel(config=NO_PROPHET, history=source)
    inspection = await sentinel.inspect(late, record=False)
    assert len(source.requests) == 2
    assert not [f for f in inspection.report.findings if f.check is Check.GAP]
    await sentinel.aclose()


async def test_inspecting_schedules_the_fits_it_lacks(bars: pa.Table) -> None:
    history, batch = split_last(bars)
    sentinel = Sentinel(config=NO_PROPHET, history=InMemoryHistory(history))
    first = await sentinel.inspect(batch, record=False)
    assert first.refit_scheduled and first.report.models.isolation_rows == 0
    await sentinel.trainer.wait_idle()
    second = await sentinel.inspect(batch, record=False)
    assert not second.refit_scheduled and second.report.models.isolation_rows == 5
    await sentinel.aclose()


async def test_day_by_day_ingest_sees_each_committed_day(bars: pa.Table) -> None:
    history, batch = split_last(bars, 3)
    source = InMemoryHistory(history)
    sentinel = Sentinel(config=NO_PROPHET, history=source)
    for day in times(batch):
        today = batch.filter(pa.compute.equal(batch.column("time").cast(pa.int64()), int(day)))
        inspection = await sentinel.inspect(today, record=False)
        assert inspection.report.verdict is Verdict.PASS
        assert not [f for f in inspection.report.findings if f.check is Check.GAP]
        source.extend(today)  # committed
    await sentinel.aclose()


async def test_refits_on_demand_cover_every_cached_symbol_and_say_what_they_skip() -> None:
    """Refits on demand read history up to now, so this market ends yesterday."""
    recent = generate_market(n_symbols=4, n_days=260, start=date.today() - timedelta(days=375))
    history = recent.bars
    young = history.filter(pa.compute.equal(history.column("symbol"), "SYN001")).slice(0, 30)
    young = young.set_column(0, "symbol", pa.array(["NEW"] * young.num_rows))
    source = InMemoryHistory(pa.concat_tables([history, young.cast(history.schema)]))
    sentinel = Sentinel(config=NO_PROPHET, history=source)
    first = await sentinel.refresh_models(["SYN001", "NEW", "GONE"])
    assert first.fitted == ["NEW", "SYN001"]  # the pooled forest covers every symbol it saw
    assert "GONE: no history" in first.skipped
    assert sentinel.models.symbols(Frequency.DAILY) == ["NEW", "SYN001"]
    again = await sentinel.refresh_models([])
    assert again.fitted == ["NEW", "SYN001"]
    await sentinel.aclose()


async def test_bad_batches_and_missing_wiring_are_refused(bars: pa.Table) -> None:
    sentinel = Sentinel(config=NO_PROPHET)
    with pytest.raises(InvalidArgument) as caught:
        await sentinel.inspect(bars.slice(0, 0))
    assert caught.value.violations[0].field == "bars"
    with pytest.raises(InvalidArgument) as missing:
        sentinel.check_batch(bars.drop_columns(["close"]))
    assert missing.value.violations[0].field == "close"
    with pytest.raises(FailedPrecondition):
        await sentinel.list_events()
    with pytest.raises(FailedPrecondition):
        await sentinel.refresh_models(["SYN001"])
    await sentinel.aclose()


async def test_a_day_of_500_symbols_is_checked_in_well_under_a_second() -> None:
    market_500 = generate_market(n_symbols=500, n_days=200, seed=9).bars
    history, batch = split_last(market_500)
    sentinel = Sentinel(config=NO_PROPHET)
    await sentinel.fit_models(history)
    sentinel.check_batch(batch, history)  # warm up
    began = time.perf_counter()
    report = sentinel.check_batch(batch, history)
    took = time.perf_counter() - began
    assert report.rows == 500 and report.models.isolation_rows == 500
    assert took < 1.0, took
    await sentinel.aclose()
