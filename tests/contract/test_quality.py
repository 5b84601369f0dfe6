"""The quality sentinel over real gRPC, and marketdata's ingest gate going through it.

One module-wide mesh (marketdata + quality in one server, so the gate is on): five Dow stocks'
history ingested through the sentinel; then single sessions, clean or corrupted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.marketdata.domain.gate import IngestOutcome
from services.quality.domain.findings import Severity
from services.quality.domain.report import IngestDecision
from services.runtime.errors import InvalidArgument, NotFound, Unavailable
from services.runtime.ports import free_port
from services.runtime.settings import RuntimeSettings, load
from tests.bars import with_value
from tests.conftest import Served, require_shared_data, serve, shutdown

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
SYMBOLS = ("AAPL", "KO", "MSFT", "PFE", "XOM")


@dataclass
class Mesh:
    served: Served
    days: list[datetime]
    bars: pa.Table

    def day(self, index: int) -> pa.Table:
        return self.bars.filter(pc.equal(self.bars.column("time"), self.days[index]))


def settings_for(folder: Path) -> RuntimeSettings:
    return load(
        RuntimeSettings, environ={}, port=0, host="127.0.0.1", data_dir=folder, shutdown_grace_s=1
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Mesh]:
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    days = sorted(set(bars.column("time").to_pylist()))
    served = await serve(
        settings_for(tmp_path_factory.mktemp("quality")), ["marketdata", "quality"]
    )
    history = bars.filter(pc.less(bars.column("time"), days[-5]))
    report = await served.mesh.marketdata.ingest(history, Frequency.DAILY, "dow30")
    assert report.outcome is IngestOutcome.COMMITTED, report.quality_gate
    yield Mesh(served, days, bars)
    await shutdown(served)


def in_cents(day: pa.Table, symbol: str) -> pa.Table:
    """The symbol's prices quoted in cents: a consistent bar, 100x its history, CRITICAL."""
    row = day.column("symbol").to_pylist().index(symbol)
    for column in ("open", "high", "low", "close"):
        day = with_value(day, column, row, day.column(column)[row].as_py() * 100)
    return day


def corrupt_ohlc(day: pa.Table, symbol: str) -> pa.Table:
    """The symbol's high set below its low: impossible bar, a CRITICAL finding."""
    row = day.column("symbol").to_pylist().index(symbol)
    low = day.column("low")[row].as_py()
    return with_value(day, "high", row, low * 0.9)


async def test_a_clean_session_is_checked_and_committed(mesh: Mesh) -> None:
    report = await mesh.served.mesh.marketdata.ingest(mesh.day(-5), Frequency.DAILY, "clean")
    assert report.outcome is IngestOutcome.COMMITTED
    assert report.rows_inserted == len(SYMBOLS)
    assert "verdict" in report.quality_gate


async def test_a_corrupted_session_is_quarantined_with_its_events_and_stays_invisible(
    mesh: Mesh,
) -> None:
    md, quality = mesh.served.mesh.marketdata, mesh.served.mesh.quality
    report = await md.ingest(in_cents(mesh.day(-4), "KO"), Frequency.DAILY, "bad feed")
    assert report.outcome is IngestOutcome.QUARANTINED
    assert report.quality_event_ids and report.rows_inserted == 0
    visible = await md.get_bars(["KO"], Frequency.DAILY)
    assert visible.column("time")[-1].as_py() < mesh.days[-4]
    events = await quality.list_events(symbol="KO", min_severity=Severity.CRITICAL)
    [event] = [e for e in events.events if e.id in report.quality_event_ids]
    assert event.check == "price_outlier" and event.decision == 2  # BATCH_DECISION_QUARANTINE
    assert event.reasons and all(r.detail for r in event.reasons)
    summary = await quality.summary()
    assert summary.quarantined_batches >= 1
    assert any(c.key == "CRITICAL" and c.count >= 1 for c in summary.by_severity)
    assert any(e.id == event.id for e in summary.latest_alerts)

    acknowledged = await quality.acknowledge(event.id, "on-call")
    assert acknowledged.status == 2 and acknowledged.acknowledged_by == "on-call"
    again = await quality.acknowledge(event.id, "someone else")
    assert again.acknowledge_time == acknowledged.acknowledge_time


async def test_forcing_commits_a_critical_session_and_records_the_decision(mesh: Mesh) -> None:
    md = mesh.served.mesh.marketdata
    report = await md.ingest(in_cents(mesh.day(-3), "PFE"), Frequency.DAILY, "forced", force=True)
    assert report.outcome is IngestOutcome.COMMITTED_FORCED
    assert (await md.get_bars(["PFE"], Frequency.DAILY, start=mesh.days[-3])).num_rows == 1
    events = await mesh.served.mesh.quality.list_events(symbol="PFE")
    assert any(e.decision == 3 for e in events.events)  # BATCH_DECISION_COMMIT_FORCED


async def test_a_dry_run_checks_without_storing_events(mesh: Mesh) -> None:
    quality = mesh.served.mesh.quality
    before = (await quality.summary()).total_events
    verdict = await quality.check_batch(
        corrupt_ohlc(mesh.day(-2), "XOM"), Frequency.DAILY, dry_run=True
    )
    assert verdict.decision is IngestDecision.CHECKED
    assert verdict.max_severity is Severity.CRITICAL and not verdict.event_ids
    assert verdict.findings[0].symbol == "XOM" and verdict.findings[0].check.value == "ohlc"
    assert (await quality.summary()).total_events == before


async def test_score_series_flags_a_spike_in_an_operational_metric(mesh: Mesh) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(60)]
    values = [100.0 + (i % 5) for i in range(60)]
    values[45] = 900.0
    scored = await mesh.served.mesh.quality.score_series(times, values, "ingest_latency_ms")
    assert len(scored.points) == 60
    worst = max(range(60), key=lambda i: scored.points[i].score)
    assert worst == 45 and scored.points[45].severity >= 3
    assert "ingest_latency_ms" in scored.points[45].reasons[0].detail


async def test_bad_requests_get_the_right_status(mesh: Mesh) -> None:
    quality = mesh.served.mesh.quality
    with pytest.raises(InvalidArgument, match="bars"):
        await quality.check_batch(mesh.day(-1).slice(0, 0), Frequency.DAILY)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(30)]
    with pytest.raises(InvalidArgument):
        await quality.score_series(list(reversed(times)), [1.0] * 30)
    with pytest.raises(InvalidArgument):
        await quality.score_series(times, [1.0] * 29 + [float("nan")])
    with pytest.raises(InvalidArgument):
        await quality.score_series(times[:5], [1.0] * 5)
    with pytest.raises(NotFound):
        await quality.acknowledge("no-such-event")
    with pytest.raises(InvalidArgument):
        await quality.acknowledge("")
    with pytest.raises(InvalidArgument, match="check"):
        await quality.list_events(check="no_such_check")
    with pytest.raises(InvalidArgument):
        await quality.summary(latest_alerts=1000)
    health = await mesh.served.mesh.health("quality").check("quantmesh.quality.v1.QualityService")
    assert health.status == "SERVING"


async def test_an_unreachable_sentinel_follows_the_configured_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTMESH_QUALITY_ADDRESS", f"127.0.0.1:{free_port()}")  # nobody there
    monkeypatch.setenv("QUANTMESH_MARKETDATA_QUALITY_POLICY", "closed")
    closed = await serve(settings_for(tmp_path / "closed"), ["marketdata"])
    bars = parse_csv(require_shared_data() / "daily" / "dow30" / "KO.csv").table.slice(0, 30)
    try:
        with pytest.raises(Unavailable, match="fail-closed"):
            await closed.mesh.marketdata.ingest(bars, Frequency.DAILY, timeout=20)
        assert await closed.mesh.marketdata.all_symbols() == []
    finally:
        await shutdown(closed)
    monkeypatch.setenv("QUANTMESH_MARKETDATA_QUALITY_POLICY", "open")
    opened = await serve(settings_for(tmp_path / "open"), ["marketdata"])
    try:
        report = await opened.mesh.marketdata.ingest(bars, Frequency.DAILY, timeout=20)
        assert report.outcome is IngestOutcome.COMMITTED_UNCHECKED
        assert "unreachable" in report.quality_gate
    finally:
        await shutdown(opened)
