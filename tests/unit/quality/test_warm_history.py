"""The warm history window: answers equal reads, notices keep it current, the fence holds."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency, normalize_bars
from services.marketdata.domain.store import BatchNotice
from services.quality.domain.history import InMemoryHistory
from services.quality.domain.sentinel import SentinelConfig
from services.quality.domain.warm_history import WarmHistory
from services.runtime.errors import NotFound, Unavailable
from tests.unit.quality.helpers import at, edit, market, row, split_last, times

DAILY = Frequency.DAILY
LOOKBACK = SentinelConfig().lookback_sessions(DAILY)
SYMBOLS = [f"SYN00{i}" for i in range(1, 6)]


class FakeMarket:
    """marketdata in miniature: the latest revision of every bar, a notice per commit, reads
    counted (and, on demand, failing or held until released)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], dict[str, object]] = {}
        self.clock = datetime(2030, 1, 1, tzinfo=UTC)
        self.reads: list[tuple[tuple[str, ...], datetime, datetime]] = []
        self.history_calls = 0
        self.fail = False
        self.hold: asyncio.Event | None = None

    @property
    def bars(self) -> pa.Table:
        ordered = [self.rows[k] for k in sorted(self.rows)]
        return pa.Table.from_pylist(ordered, BAR_SCHEMA) if ordered else BAR_SCHEMA.empty_table()

    def commit(self, bars: pa.Table) -> BatchNotice:
        changed = []
        for bar in normalize_bars(bars).to_pylist():
            key = (bar["symbol"], int(bar["time"].timestamp() * 1_000_000))
            if self.rows.get(key) != bar:
                self.rows[key] = bar
                changed.append(bar)
        self.clock += timedelta(seconds=1)
        return BatchNotice(
            uuid.uuid4().hex,
            self.clock,
            DAILY,
            sorted({b["symbol"] for b in changed}),
            min(b["time"] for b in changed),
            max(b["time"] for b in changed),
            len(changed),
        )

    async def read_bars(
        self, symbols: Sequence[str], frequency: Frequency, start: datetime, end: datetime
    ) -> pa.Table:
        snapshot = self.bars  # what the store holds when the read starts
        self.reads.append((tuple(symbols), start, end))
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise Unavailable("marketdata is down")
        if not set(symbols) <= set(snapshot.column("symbol").to_pylist()):
            raise NotFound("unknown symbol")
        mask = pc.and_(
            pc.is_in(snapshot.column("symbol"), pa.array(list(symbols), pa.string())),
            pc.and_(
                pc.greater_equal(snapshot.column("time"), pa.scalar(start, BAR_SCHEMA[1].type)),
                pc.less(snapshot.column("time"), pa.scalar(end, BAR_SCHEMA[1].type)),
            ),
        )
        return snapshot.filter(mask)

    async def history(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        before: datetime,
        lookback_sessions: int,
        *,
        min_ingestion_time: datetime | None = None,
    ) -> pa.Table:
        self.history_calls += 1
        return await InMemoryHistory(self.bars).history(
            symbols, frequency, before, lookback_sessions
        )


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    return market(symbols=5, days=220, seed=5)


def day(bars: pa.Table, index: int) -> pa.Table:
    return bars.filter(pc.equal(bars.column("time").cast(pa.int64()), int(times(bars)[index])))


async def warm_over(
    history: pa.Table, **options: float
) -> tuple[FakeMarket, WarmHistory, datetime]:
    """A market holding `history`, and a window that has applied its notice."""
    fake = FakeMarket()
    notice = fake.commit(history)
    warm = WarmHistory(fake, fake, **options)  # type: ignore[arg-type]
    warm.stream_up()
    await warm.apply(notice)
    return fake, warm, notice.ingested_at


async def read(
    fake: FakeMarket, symbols: Sequence[str], before: datetime
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = (
        await InMemoryHistory(fake.bars).history(symbols, DAILY, before, LOOKBACK)
    ).to_pylist()
    return rows


async def served(
    warm: WarmHistory, symbols: Sequence[str], before: datetime, fence: datetime
) -> list[dict[str, object]]:
    table = await warm.history(symbols, DAILY, before, LOOKBACK, min_ingestion_time=fence)
    assert table.schema.names == BAR_SCHEMA.names
    rows: list[dict[str, object]] = table.to_pylist()
    return rows


async def test_a_warm_window_answers_what_a_read_answers(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    before = at(int(times(bars)[-3]))
    assert await served(warm, SYMBOLS, before, fence) == await read(fake, SYMBOLS, before)
    assert len(fake.reads) == 1 and warm.stats.fills == 5
    # Every later check of these symbols is a slice: any subset, any later `before`.
    for symbols in (SYMBOLS, ["SYN003"], ["SYN005", "SYN001"]):
        for index in (-3, -2, -1):
            later = at(int(times(bars)[index]))
            assert await served(warm, symbols, later, fence) == await read(fake, symbols, later)
    assert len(fake.reads) == 1 and fake.history_calls == 0
    assert warm.cached_bars == len(await read(fake, SYMBOLS, before))


async def test_a_notice_brings_the_new_day_in_with_one_small_read(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    await served(warm, SYMBOLS, at(int(times(bars)[-3])), fence)
    for index in (-3, -2):
        notice = fake.commit(day(bars, index))
        await warm.apply(notice)
        symbols, start, end = fake.reads[-1]
        assert symbols == tuple(SYMBOLS) and start == at(int(times(bars)[index]))
        assert end - start == timedelta(microseconds=1)  # just the changed range
        before = at(int(times(bars)[index + 1]))
        got = await served(warm, SYMBOLS, before, notice.ingested_at)
        assert got == await read(fake, SYMBOLS, before)
        assert got[-1]["time"] == at(int(times(bars)[index]))  # the day just committed
    assert len(fake.reads) == 3 and warm.stats.refreshes == 10
    # Trimmed as days arrive: what the next check needs, not every day since the fill.
    next_check = at(int(times(bars)[-2])) + timedelta(microseconds=1)
    assert warm.cached_bars == len(await read(fake, SYMBOLS, next_check))


async def test_a_revision_of_an_old_bar_is_reflected(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    before = at(int(times(bars)[-3]))
    await served(warm, SYMBOLS, before, fence)
    old = int(times(bars)[-40])
    bar = row(bars, "SYN002", old)
    revised = edit(day(bars, -40), "SYN002", old, close=bar["close"] * 1.1, high=bar["high"] * 1.2)
    notice = fake.commit(revised)
    assert notice.symbols == ["SYN002"]
    await warm.apply(notice)
    got = await served(warm, SYMBOLS, before, notice.ingested_at)
    assert got == await read(fake, SYMBOLS, before)
    [changed] = [r for r in got if r["symbol"] == "SYN002" and r["time"] == at(old)]
    assert changed["close"] == pytest.approx(bar["close"] * 1.1)
    # A revision older than every window changes nothing cached and reads nothing.
    ancient = int(times(bars)[5])
    reads = len(fake.reads)
    bar = row(bars, "SYN004", ancient)
    await warm.apply(fake.commit(edit(day(bars, 5), "SYN004", ancient, volume=bar["volume"] + 1)))
    assert len(fake.reads) == reads


async def test_windows_stay_within_the_bar_budget(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history, max_bars=int(2.5 * LOOKBACK))
    before = at(int(times(bars)[-3]))
    for symbol in ("SYN001", "SYN002", "SYN003"):
        assert await served(warm, [symbol], before, fence) == await read(fake, [symbol], before)
    assert warm.cached_symbols(DAILY) == ["SYN002", "SYN003"]
    assert warm.cached_bars <= warm.max_bars and warm.stats.evictions == 1
    assert await served(warm, SYMBOLS, before, fence) == await read(fake, SYMBOLS, before)
    assert warm.cached_bars <= warm.max_bars and len(warm.cached_symbols(DAILY)) == 2
    # A window larger than the whole budget is read, answered, and not kept.
    tiny_fake, tiny, tiny_fence = await warm_over(history, max_bars=50)
    assert await served(tiny, SYMBOLS, before, tiny_fence) == await read(tiny_fake, SYMBOLS, before)
    assert tiny.cached_bars == 0


async def test_a_check_waits_for_its_fence_then_uses_the_window(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history, fence_timeout_s=5.0)
    await served(warm, SYMBOLS, at(int(times(bars)[-3])), fence)
    notice = fake.commit(day(bars, -3))  # committed; its notice is still on the way
    before = at(int(times(bars)[-2]))
    check = asyncio.create_task(served(warm, SYMBOLS, before, notice.ingested_at))
    await asyncio.sleep(0.02)
    assert not check.done()
    await warm.apply(notice)
    assert await check == await read(fake, SYMBOLS, before)
    assert warm.stats.fallbacks == 0 and fake.history_calls == 0


async def test_a_fence_out_of_reach_reads_marketdata_instead(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history, fence_timeout_s=0.05)
    await served(warm, SYMBOLS, at(int(times(bars)[-3])), fence)
    notice = fake.commit(day(bars, -3))  # its notice never arrives
    before = at(int(times(bars)[-2]))
    started = time.perf_counter()
    got = await served(warm, SYMBOLS, before, notice.ingested_at)
    assert got == await read(fake, SYMBOLS, before)  # the just-committed day is there
    assert 0.04 < time.perf_counter() - started < 2
    assert warm.stats.fallbacks == 1 and fake.history_calls == 1
    # With the stream down nothing is waited for.
    warm.fence_timeout_s = 30.0
    warm.stream_down()
    started = time.perf_counter()
    assert await served(warm, SYMBOLS, before, notice.ingested_at) == got
    assert time.perf_counter() - started < 1 and fake.history_calls == 2
    # Requests without a fence always read marketdata.
    await warm.history(SYMBOLS, DAILY, before, LOOKBACK)
    assert fake.history_calls == 3 and warm.stats.read_through == 1


async def test_a_notice_during_a_read_keeps_that_read_out_of_the_window(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    before = at(int(times(bars)[-3]))
    fake.hold = asyncio.Event()
    check = asyncio.create_task(served(warm, SYMBOLS, before, fence))
    await asyncio.sleep(0.01)  # the read has taken its snapshot
    old = int(times(bars)[-10])
    bar = row(bars, "SYN001", old)
    notice = fake.commit(edit(day(bars, -10), "SYN001", old, volume=bar["volume"] * 3))
    await warm.apply(notice)
    fake.hold.set()
    fake.hold = None
    await check  # answered from its read, which predates the revision: fine for its fence
    assert "SYN001" not in warm.cached_symbols(DAILY)
    got = await served(warm, SYMBOLS, before, notice.ingested_at)
    assert got == await read(fake, SYMBOLS, before)
    [revised] = [r for r in got if r["symbol"] == "SYN001" and r["time"] == at(old)]
    assert revised["volume"] == pytest.approx(bar["volume"] * 3)


async def test_symbols_never_announced_need_no_read(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    before = at(int(times(bars)[-3]))
    assert await served(warm, ["NEWCO"], before, fence) == []
    assert not fake.reads and warm.stats.empty == 1
    got = await served(warm, ["NEWCO", "SYN001"], before, fence)
    assert got == await read(fake, ["SYN001"], before)


async def test_a_read_that_may_miss_later_bars_is_answered_but_not_kept(bars: pa.Table) -> None:
    fake, warm, fence = await warm_over(bars)  # bars up to the last day are stored
    early = at(int(times(bars)[-50]))
    assert await served(warm, SYMBOLS, early, fence) == await read(fake, SYMBOLS, early)
    assert warm.cached_bars == 0  # the window would lack the 49 later days
    after = at(int(times(bars)[-1]) + 86_400_000_000)
    assert await served(warm, SYMBOLS, after, fence) == await read(fake, SYMBOLS, after)
    assert warm.cached_symbols(DAILY) == SYMBOLS
    # A check needing more than the window holds is read again; a later one is a slice.
    reads = len(fake.reads)
    recent = at(int(times(bars)[-2]))
    assert await served(warm, SYMBOLS, recent, fence) == await read(fake, SYMBOLS, recent)
    assert len(fake.reads) == reads + 1
    later = after + timedelta(days=3)
    assert await served(warm, SYMBOLS, later, fence) == await read(fake, SYMBOLS, later)
    assert len(fake.reads) == reads + 1


async def test_a_failed_refresh_drops_the_windows_it_could_not_update(bars: pa.Table) -> None:
    history, _ = split_last(bars, 3)
    fake, warm, fence = await warm_over(history)
    await served(warm, SYMBOLS, at(int(times(bars)[-3])), fence)
    fake.fail = True
    notice = fake.commit(day(bars, -3))
    await warm.apply(notice)
    assert warm.cached_bars == 0 and warm.stats.invalidations == 5
    assert warm.position == notice.ingested_at
    fake.fail = False
    before = at(int(times(bars)[-2]))
    assert await served(warm, SYMBOLS, before, notice.ingested_at) == await read(
        fake, SYMBOLS, before
    )


async def test_the_follower_replays_from_the_start_and_resumes_after_a_drop(
    bars: pa.Table,
) -> None:
    history, _ = split_last(bars, 3)
    fake = FakeMarket()
    notices = [fake.commit(history), fake.commit(day(bars, -3)), fake.commit(day(bars, -2))]
    afters: list[datetime | None] = []
    done = asyncio.Event()

    class Stream:
        def watch_ingests(
            self, after: datetime | None, heartbeat_s: float
        ) -> AsyncIterator[BatchNotice | None]:
            return self._watch(after)

        async def _watch(self, after: datetime | None) -> AsyncIterator[BatchNotice | None]:
            afters.append(after)
            for notice in notices:
                if after is None or notice.ingested_at > after:
                    yield notice
                    if len(afters) == 1:  # the first connection drops after one notice
                        raise Unavailable("marketdata restarted")
            yield None
            done.set()
            await asyncio.Event().wait()

    warm = WarmHistory(fake, fake)  # type: ignore[arg-type]
    follower = asyncio.create_task(warm.follow_ingests(Stream(), retry_s=0.01))
    await asyncio.wait_for(done.wait(), 5)
    assert afters == [datetime(1970, 1, 1, tzinfo=UTC), notices[0].ingested_at]
    assert warm.position == notices[-1].ingested_at and warm.connected
    assert await warm.wait_for(notices[-1].ingested_at, 0)
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    assert not warm.connected
