"""The ingest gate: what marketdata does with the sentinel's verdict, and without a sentinel."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.gate import (
    FailurePolicy,
    IngestOutcome,
    SentinelGate,
    SentinelVerdict,
)
from services.marketdata.domain.service import MarketData
from services.marketdata.domain.store import BarStore, open_database
from services.runtime.errors import QuantmeshError, Unavailable
from tests.bars import make_bars


class ScriptedSentinel:
    """Finds batches with a symbol of `critical` critical, or fails with `error`; records calls."""

    def __init__(self, critical: tuple[str, ...] = (), error: QuantmeshError | None = None) -> None:
        self.critical = critical
        self.error = error
        self.calls: list[tuple[int, str, bool]] = []

    async def check_batch(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> SentinelVerdict:
        self.calls.append((bars.num_rows, batch_id, force))
        if self.error is not None:
            raise self.error
        critical = any(s in self.critical for s in bars.column("symbol").to_pylist())
        return SentinelVerdict(
            quarantine=critical and not force,
            forced=critical and force,
            summary="critical: ohlc" if critical else "clean",
            event_ids=["e1"] if critical else [],
        )


def market(tmp_path: Path, sentinel: ScriptedSentinel, policy: FailurePolicy) -> MarketData:
    return MarketData(
        BarStore(open_database(tmp_path / "md.duckdb")), SentinelGate(sentinel, policy)
    )


async def test_a_clean_batch_is_checked_then_committed(tmp_path: Path) -> None:
    sentinel = ScriptedSentinel()
    md = market(tmp_path, sentinel, FailurePolicy.CLOSED)
    report = await md.ingest(make_bars(days=3), Frequency.DAILY, "t")
    assert report.outcome is IngestOutcome.COMMITTED
    assert sentinel.calls == [(3, report.batch_id, False)]
    assert (await md.get_bars(["AAA"], Frequency.DAILY)).num_rows == 3


async def test_a_critical_batch_is_quarantined_and_invisible_to_reads(tmp_path: Path) -> None:
    md = market(tmp_path, ScriptedSentinel(critical=("AAA",)), FailurePolicy.CLOSED)
    await md.ingest(make_bars(("BBB",), days=2), Frequency.DAILY)
    report = await md.ingest(make_bars(("AAA",), days=3), Frequency.DAILY)
    assert report.outcome is IngestOutcome.QUARANTINED
    assert report.quality_event_ids == ["e1"]
    assert report.rows_inserted == 0
    assert md.store.quarantined_rows(report.batch_id) == 3
    assert (await md.get_bars([], Frequency.DAILY)).column("symbol").unique().to_pylist() == ["BBB"]


async def test_forcing_commits_a_critical_batch_and_says_so(tmp_path: Path) -> None:
    sentinel = ScriptedSentinel(critical=("AAA",))
    md = market(tmp_path, sentinel, FailurePolicy.CLOSED)
    report = await md.ingest(make_bars(days=3), Frequency.DAILY, force=True)
    assert report.outcome is IngestOutcome.COMMITTED_FORCED
    assert sentinel.calls[0][2] is True
    assert (await md.get_bars(["AAA"], Frequency.DAILY)).num_rows == 3


async def test_an_unreachable_sentinel_fails_open_by_committing_unchecked(tmp_path: Path) -> None:
    md = market(tmp_path, ScriptedSentinel(error=Unavailable("down")), FailurePolicy.OPEN)
    report = await md.ingest(make_bars(days=3), Frequency.DAILY)
    assert report.outcome is IngestOutcome.COMMITTED_UNCHECKED
    assert "unreachable" in report.quality_gate and "fail-open" in report.quality_gate


async def test_an_unreachable_sentinel_fails_closed_by_refusing_and_writing_nothing(
    tmp_path: Path,
) -> None:
    md = market(tmp_path, ScriptedSentinel(error=Unavailable("down")), FailurePolicy.CLOSED)
    with pytest.raises(Unavailable, match="fail-closed"):
        await md.ingest(make_bars(days=3), Frequency.DAILY)
    assert md.store.coverage() == []
    assert md.store.quarantined_rows() == 0


async def test_without_a_sentinel_batches_commit_unchecked(tmp_path: Path) -> None:
    md = MarketData(BarStore(open_database(tmp_path / "md.duckdb")))
    report = await md.ingest(make_bars(days=2), Frequency.DAILY)
    assert report.outcome is IngestOutcome.COMMITTED_UNCHECKED
    assert "no quality sentinel" in report.quality_gate
