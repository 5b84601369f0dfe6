"""The marketdata contract, run against the domain object and against the service over gRPC.

Both sides must behave the same: what a researcher sees in process is what a client in another
process (or language) sees over the network, status codes included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.service import MarketData
from services.marketdata.domain.store import BarStore, open_database
from services.runtime.errors import InvalidArgument, NotFound, OutOfRange
from services.runtime.settings import RuntimeSettings
from tests.bars import closes, make_bars, with_value
from tests.conftest import serve, shutdown

DAY = timedelta(days=1)
T0 = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["domain", "grpc"])
async def marketdata(request: Any, settings: RuntimeSettings) -> AsyncIterator[Any]:
    if request.param == "domain":
        store = BarStore(open_database(settings.data_dir / "md.duckdb"))
        yield MarketData(store)
        store.close()
    else:
        served = await serve(settings, ["marketdata"])
        yield served.mesh.marketdata
        await shutdown(served)


async def test_ingested_bars_read_back_in_symbol_and_time_order(marketdata: Any) -> None:
    bars = make_bars(("BBB", "AAA"), days=4)
    report = await marketdata.ingest(bars, Frequency.DAILY, "test")
    assert (report.rows_received, report.rows_inserted) == (8, 8)
    assert [c.symbol for c in report.symbols] == ["AAA", "BBB"]
    stored = await marketdata.get_bars([], Frequency.DAILY)
    assert stored.column("symbol").to_pylist() == ["AAA"] * 4 + ["BBB"] * 4
    assert stored.column("time").to_pylist()[:4] == [T0 + i * DAY for i in range(4)]
    assert closes(stored)[:4] == [101.0, 102.0, 103.0, 104.0]  # AAA was listed second
    assert stored.column("adj_close").null_count == 8


async def test_symbols_are_case_insensitive(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(("aapl",)), Frequency.DAILY)
    assert (await marketdata.get_bars(["aApL"], Frequency.DAILY)).num_rows == 5


async def test_reingesting_identical_bars_changes_nothing(marketdata: Any) -> None:
    bars = make_bars(days=3)
    first = await marketdata.ingest(bars, Frequency.DAILY)
    again = await marketdata.ingest(bars, Frequency.DAILY)
    assert (again.rows_inserted, again.rows_revised, again.rows_unchanged) == (0, 0, 3)
    stored = await marketdata.get_bars(["AAA"], Frequency.DAILY)
    assert set(stored.column("ingested_at").to_pylist()) == {first.ingestion_time}


async def test_revisions_are_kept_and_reads_accept_a_knowledge_time(marketdata: Any) -> None:
    bars = make_bars(days=3)
    first = await marketdata.ingest(bars, Frequency.DAILY)
    revised = with_value(bars, "close", 1, 100.7)
    second = await marketdata.ingest(revised, Frequency.DAILY)
    assert (second.rows_inserted, second.rows_revised, second.rows_unchanged) == (0, 1, 2)
    assert second.ingestion_time > first.ingestion_time

    latest = await marketdata.get_bars(["AAA"], Frequency.DAILY)
    assert closes(latest) == [100.0, 100.7, 102.0]
    as_first = await marketdata.get_bars(["AAA"], Frequency.DAILY, as_of=first.ingestion_time)
    assert closes(as_first) == [100.0, 101.0, 102.0]
    before_any = await marketdata.get_bars(
        ["AAA"], Frequency.DAILY, as_of=first.ingestion_time - timedelta(seconds=1)
    )
    assert before_any.num_rows == 0


async def test_time_range_is_half_open(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(days=5), Frequency.DAILY)
    window = await marketdata.get_bars(["AAA"], Frequency.DAILY, T0 + DAY, T0 + 3 * DAY)
    assert window.column("time").to_pylist() == [T0 + DAY, T0 + 2 * DAY]


async def test_frequencies_are_separate_series(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(days=2), Frequency.DAILY)
    minute = make_bars(days=3, start=T0 + timedelta(hours=14, minutes=30))
    await marketdata.ingest(minute, Frequency.MINUTE)
    assert (await marketdata.get_bars(["AAA"], Frequency.DAILY)).num_rows == 2
    assert (await marketdata.get_bars(["AAA"], Frequency.MINUTE)).num_rows == 3
    page = await marketdata.list_symbols()
    assert [c.frequency for c in page.symbols[0].series] == [Frequency.DAILY, Frequency.MINUTE]


async def test_list_symbols_pages_in_symbol_order_with_coverage(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(("EEE", "AAA", "CCC", "BBB", "DDD"), days=3), Frequency.DAILY)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await marketdata.list_symbols(page_size=2, page_token=token)
        seen += [s.symbol for s in page.symbols]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert (seen, pages) == (["AAA", "BBB", "CCC", "DDD", "EEE"], 3)
    first = (await marketdata.list_symbols(prefix="c")).symbols[0]
    assert (first.symbol, first.series[0].row_count) == ("CCC", 3)
    assert first.series[0].first_time == T0 and first.series[0].last_time == T0 + 2 * DAY


async def test_a_page_token_only_works_with_its_own_filters(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(("AAA", "AAB", "AAC")), Frequency.DAILY)
    page = await marketdata.list_symbols(page_size=1)
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.list_symbols(prefix="AA", page_size=1, page_token=page.next_page_token)
    assert caught.value.violations[0].field == "page_token"
    with pytest.raises(InvalidArgument):
        await marketdata.list_symbols(page_token="not-a-token")


BAD_ROWS = [
    ("close", float("nan"), "close", "finite"),
    ("high", float("inf"), "high", "finite"),
    ("open", -1.0, "open", "> 0"),
    ("low", 0.0, "low", "> 0"),
    ("high", 99.0, "high", "below low"),
    ("open", 150.0, "open", "outside [low, high]"),
    ("close", 1000.0, "close", "outside [low, high]"),
    ("volume", -5.0, "volume", ">= 0"),
    ("volume", float("nan"), "volume", "finite"),
    ("symbol", "", "symbol", "empty"),
    ("time", None, "time", "missing"),
]


@pytest.mark.parametrize(("column", "value", "field", "words"), BAD_ROWS)
async def test_a_batch_with_one_bad_row_writes_nothing(
    marketdata: Any, column: str, value: object, field: str, words: str
) -> None:
    bars = with_value(make_bars(("AAA", "BBB"), days=5), column, 7, value)
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(bars, Frequency.DAILY)
    error = caught.value
    assert error.reason == "INVALID_ROW"
    assert error.violations[0].field == f"rows[7].{field}"
    assert words in error.violations[0].description
    assert error.metadata["row"] == "7"
    assert (await marketdata.list_symbols()).symbols == []


async def test_duplicate_bars_in_one_batch_are_rejected(marketdata: Any) -> None:
    bars = make_bars(days=3)
    doubled = pa.concat_tables([bars, bars.slice(1, 1)])
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(doubled, Frequency.DAILY)
    assert caught.value.violations[0].field == "rows[3].time"


async def test_bad_batches_are_rejected_with_the_field_named(marketdata: Any) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(make_bars().slice(0, 0), Frequency.DAILY)
    assert caught.value.violations[0].field == "frame"
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(make_bars(), None)
    assert caught.value.violations[0].field == "frequency"
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(make_bars().drop_columns(["volume"]), Frequency.DAILY)
    assert caught.value.violations[0].field == "volume"
    text_prices = make_bars().set_column(2, "open", pa.array(["x"] * 5))
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.ingest(text_prices, Frequency.DAILY)
    assert caught.value.violations[0].field == "open"


async def test_reads_of_unknown_symbols_are_not_found(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(), Frequency.DAILY)
    with pytest.raises(NotFound) as caught:
        await marketdata.get_bars(["AAA", "NOPE"], Frequency.DAILY)
    assert caught.value.reason == "SYMBOL_NOT_FOUND"
    assert caught.value.metadata["symbol"] == "NOPE"
    with pytest.raises(NotFound):
        await marketdata.get_bars(["AAA"], Frequency.MINUTE)


async def test_reads_outside_the_data_are_out_of_range(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(days=5), Frequency.DAILY)
    with pytest.raises(OutOfRange) as caught:
        await marketdata.get_bars(["AAA"], Frequency.DAILY, start=T0 + 30 * DAY)
    assert caught.value.metadata["last_time"].startswith("2020-01-05")
    with pytest.raises(OutOfRange):
        await marketdata.get_bars(["AAA"], Frequency.DAILY, end=T0 - DAY)


async def test_bad_read_requests_are_invalid(marketdata: Any) -> None:
    await marketdata.ingest(make_bars(), Frequency.DAILY)
    with pytest.raises(InvalidArgument) as caught:
        await marketdata.get_bars(["AAA"], Frequency.DAILY, T0 + DAY, T0)
    assert caught.value.violations[0].field == "time_range"
    with pytest.raises(InvalidArgument):
        await marketdata.get_bars(["AAA"], None)
    with pytest.raises(InvalidArgument):
        await marketdata.get_bars([" "], Frequency.DAILY)
    with pytest.raises(InvalidArgument):
        await marketdata.list_symbols(page_size=-1)


async def test_every_revision_is_readable_at_its_own_knowledge_time(marketdata: Any) -> None:
    bars = make_bars(days=2)
    versions = [100.0, 100.2, 100.4]
    reports = []
    for close in versions:
        reports.append(
            await marketdata.ingest(with_value(bars, "close", 0, close), Frequency.DAILY)
        )
    for report, close in zip(reports, versions, strict=True):
        known = await marketdata.get_bars(["AAA"], Frequency.DAILY, as_of=report.ingestion_time)
        assert closes(known) == [close, 101.0]
    latest = await marketdata.list_symbols()
    assert latest.symbols[0].series[0].row_count == 2  # revisions are not extra bars


async def test_appending_new_sessions_then_reingesting_everything(marketdata: Any) -> None:
    bars = make_bars(("AAA", "BBB"), days=6)
    first_half = bars.filter(pa.compute.less(bars["time"], pa.scalar(T0 + 3 * DAY)))
    second_half = bars.filter(pa.compute.greater_equal(bars["time"], pa.scalar(T0 + 3 * DAY)))
    assert (await marketdata.ingest(first_half, Frequency.DAILY)).rows_inserted == 6
    appended = await marketdata.ingest(second_half, Frequency.DAILY)
    assert (appended.rows_inserted, appended.rows_unchanged) == (6, 0)
    again = await marketdata.ingest(with_value(bars, "close", 11, 105.5), Frequency.DAILY)
    assert (again.rows_inserted, again.rows_revised, again.rows_unchanged) == (0, 1, 11)
    assert (await marketdata.get_bars(["BBB"], Frequency.DAILY)).num_rows == 6


async def next_notice(stream: AsyncIterator[Any]) -> Any:
    """The next batch notice of a watch stream, skipping heartbeats."""
    async with asyncio.timeout(10):
        async for notice in stream:
            if notice is not None:
                return notice
    raise AssertionError("the watch stream ended")


async def test_watch_replays_batches_after_a_knowledge_time_then_streams_live(
    marketdata: Any,
) -> None:
    first = await marketdata.ingest(make_bars(("AAA",), days=3), Frequency.DAILY)
    second = await marketdata.ingest(make_bars(("BBB",), days=2), Frequency.DAILY)
    stream = marketdata.watch_ingests(first.ingestion_time, heartbeat_s=0.2)
    replayed = await next_notice(stream)
    assert (replayed.batch_id, replayed.symbols) == (second.batch_id, ["BBB"])
    assert (replayed.first_time, replayed.last_time) == (T0, T0 + DAY)

    later = pa.concat_tables([make_bars(("AAA",), days=4).slice(3), make_bars(("CCC",), days=1)])
    live = await marketdata.ingest(later, Frequency.DAILY)
    notice = await next_notice(stream)
    assert notice.batch_id == live.batch_id
    assert notice.symbols == ["AAA", "CCC"]
    assert notice.ingested_at == live.ingestion_time
    assert notice.rows_changed == 2
    await stream.aclose()


async def test_watch_is_silent_on_unchanged_batches_and_heartbeats_while_idle(
    marketdata: Any,
) -> None:
    bars = make_bars(("AAA",), days=3)
    await marketdata.ingest(bars, Frequency.DAILY)
    stream = marketdata.watch_ingests(heartbeat_s=0.1)
    await marketdata.ingest(bars, Frequency.DAILY)  # identical: nothing changed
    async with asyncio.timeout(5):
        assert await anext(stream) is None  # a heartbeat, not a notice
    await stream.aclose()
