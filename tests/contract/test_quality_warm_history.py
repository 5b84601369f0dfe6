"""The sentinel's warm history over real servers: marketdata's gate sends its watermark, the
quality service follows the ingest stream, and checks see every batch committed before them.

marketdata and quality run in one server (so the gate is on); the market is synthetic. SYN002's
last-but-one session is ingested (forced) at three times its price, so the next, ordinary
session is a split-like drop (CRITICAL) *only* when the check's history holds the batch
committed just before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency
from services.marketdata.domain.gate import IngestOutcome
from services.marketdata.domain.synthetic import generate_market
from services.quality.app import QualityService
from services.quality.domain.calendar import lookback_start
from services.quality.domain.findings import Severity
from services.quality.domain.report import IngestDecision
from services.quality.domain.sentinel import SentinelConfig
from services.quality.domain.warm_history import WarmHistory
from tests.bars import with_value
from tests.conftest import Served, serve, server_settings, shutdown

pytestmark = pytest.mark.slow
DAILY = Frequency.DAILY
LOOKBACK = SentinelConfig().lookback_sessions(DAILY)


@dataclass
class Market:
    bars: pa.Table
    days: list[datetime]

    def day(self, index: int) -> pa.Table:
        return self.bars.filter(pc.equal(self.bars.column("time"), self.days[index]))

    def before(self, index: int) -> pa.Table:
        return self.bars.filter(pc.less(self.bars.column("time"), self.days[index]))


@pytest.fixture(scope="module")
def market() -> Market:
    bars = generate_market(n_symbols=5, n_days=160, seed=3).bars.select(BAR_SCHEMA.names)
    return Market(bars, sorted(set(bars.column("time").to_pylist())))


async def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_bars: int) -> Served:
    monkeypatch.setenv("QUANTMESH_QUALITY_HISTORY_CACHE_BARS", str(cache_bars))
    return await serve(server_settings(tmp_path), ["marketdata", "quality"])


@pytest.fixture
async def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    served = await start(tmp_path, monkeypatch, 100_000)
    yield served
    await shutdown(served)


@pytest.fixture
async def uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    served = await start(tmp_path, monkeypatch, 0)
    yield served
    await shutdown(served)


def warm_of(served: Served) -> WarmHistory:
    [quality] = [s for s in served.server.services if isinstance(s, QualityService)]
    return quality.history


def tripled(day: pa.Table, symbol: str) -> pa.Table:
    row = day.column("symbol").to_pylist().index(symbol)
    for column in ("open", "high", "low", "close", "adj_close"):
        day = with_value(day, column, row, day.column(column)[row].as_py() * 3)
    return day


async def spike_then_ordinary_day(served: Served, market: Market) -> datetime:
    """History, then SYN002 at 3x (forced), then the ordinary next session through the gate:
    quarantined, because its check saw the jump committed right before. Returns the jump's
    ingestion time."""
    md = served.mesh.marketdata
    first = await md.ingest(market.before(-2), DAILY, "history")
    assert first.outcome is IngestOutcome.COMMITTED, first.quality_gate
    spike = await md.ingest(tripled(market.day(-2), "SYN002"), DAILY, "jump", force=True)
    assert spike.outcome is IngestOutcome.COMMITTED_FORCED and spike.rows_inserted == 5
    ordinary = await md.ingest(market.day(-1), DAILY, "ordinary")
    assert ordinary.outcome is IngestOutcome.QUARANTINED, ordinary.quality_gate
    return spike.ingestion_time


async def test_the_check_right_after_an_ingest_sees_the_ingested_day(
    cached: Served, market: Market
) -> None:
    warm = warm_of(cached)
    spiked = await spike_then_ordinary_day(cached, market)
    # The two gated checks after the first ingest were served by the window, none read through.
    assert warm.stats.fallbacks == 0 and warm.stats.hits >= 5
    assert warm.cached_symbols(DAILY) == [f"SYN00{i}" for i in range(1, 6)]
    # A client fencing on the spike's ingestion time gets the same verdict from the window as a
    # client without a fence gets from marketdata.
    quality = cached.mesh.quality
    hits = warm.stats.hits
    fenced = await quality.check_batch(
        market.day(-1), DAILY, dry_run=True, min_ingestion_time=spiked
    )
    assert warm.stats.hits == hits + 5 and warm.stats.fallbacks == 0
    unfenced = await quality.check_batch(market.day(-1), DAILY, dry_run=True)
    assert fenced.decision is IngestDecision.CHECKED
    assert fenced.max_severity is Severity.CRITICAL
    assert fenced.findings[0].symbol == "SYN002"
    assert [(f.symbol, f.severity, f.score) for f in fenced.findings] == [
        (f.symbol, f.severity, f.score) for f in unfenced.findings
    ]


async def test_a_revision_of_an_old_bar_is_reflected(cached: Served, market: Market) -> None:
    md, warm = cached.mesh.marketdata, warm_of(cached)
    await spike_then_ordinary_day(cached, market)
    # Take the spike back (a revision of the latest bar): the next session is ordinary again.
    fixed = await md.ingest(market.day(-2), DAILY, "correction")
    assert fixed.outcome is IngestOutcome.COMMITTED and fixed.rows_revised == 1
    verdict = await cached.mesh.quality.check_batch(
        market.day(-1), DAILY, dry_run=True, min_ingestion_time=fixed.ingestion_time
    )
    assert verdict.max_severity < Severity.HIGH, verdict.summary
    # Revise a bar 30 sessions back; the window holds the new value without reading history.
    old = market.days[-30]
    bar = market.day(-30).filter(pc.equal(market.day(-30).column("symbol"), "SYN004"))
    revised = with_value(bar, "volume", 0, bar.column("volume")[0].as_py() * 2)
    again = await md.ingest(revised, DAILY, "late correction", force=True)
    assert again.rows_revised == 1
    hits = warm.stats.hits
    before = market.days[-1]
    window = await warm.history(
        ["SYN004"], DAILY, before, LOOKBACK, min_ingestion_time=again.ingestion_time
    )
    assert warm.stats.hits == hits + 1 and warm.stats.fallbacks == 0
    stored = await md.get_bars(["SYN004"], DAILY, lookback_start(before, LOOKBACK), before)
    assert window.to_pylist() == stored.select(BAR_SCHEMA.names).to_pylist()
    [row] = [r for r in window.to_pylist() if r["time"] == old]
    assert row["volume"] == pytest.approx(bar.column("volume")[0].as_py() * 2)


async def test_checks_read_marketdata_when_the_window_is_off(
    uncached: Served, market: Market
) -> None:
    warm = warm_of(uncached)
    assert not warm.enabled
    spiked = await spike_then_ordinary_day(uncached, market)
    verdict = await uncached.mesh.quality.check_batch(
        market.day(-1), DAILY, dry_run=True, min_ingestion_time=spiked
    )
    assert verdict.max_severity is Severity.CRITICAL
    assert warm.stats.hits == 0 and warm.cached_bars == 0 and warm.stats.read_through >= 4


async def test_a_fence_the_stream_cannot_reach_reads_marketdata(
    cached: Served, market: Market
) -> None:
    warm = warm_of(cached)
    spiked = await spike_then_ordinary_day(cached, market)
    ahead = spiked + timedelta(days=1)  # no batch will ever be announced this late
    started = asyncio.get_running_loop().time()
    verdict = await cached.mesh.quality.check_batch(
        market.day(-1), DAILY, dry_run=True, min_ingestion_time=ahead
    )
    assert verdict.max_severity is Severity.CRITICAL
    assert warm.stats.fallbacks == 1
    assert asyncio.get_running_loop().time() - started >= warm.fence_timeout_s
