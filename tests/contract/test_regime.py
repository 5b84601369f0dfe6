"""The regime service over real gRPC, with marketdata and a real MongoDB process.

One module-wide mesh: the DJI index and three Dow stocks ingested, a model fitted on DJI up to
2016. Tests run in file order; the last one stops and restarts MongoDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio
from quantmesh.regime.v1 import regime_pb2, regime_pb2_grpc

from services.clients.regime import RegimeUpdate
from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.regime.domain.regimes import Regime
from services.regime.domain.service import HISTORY_SCHEMA
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
)
from services.runtime.mongo import MongoServer
from tests.conftest import Served, require_shared_data, serve, server_settings, shutdown
from tests.mongo_server import mongo  # noqa: F401
from tests.unit.regime.conftest import dji_bars

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

STOCKS = ("KO", "XOM", "MSFT")
TRAIN_END = datetime(2016, 12, 31, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stock_bars() -> pa.Table:
    folder = require_shared_data() / "daily" / "dow30"
    return pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in STOCKS])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Served]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTMESH_MONGO_URI", mongo.uri)
        patch.setenv("QUANTMESH_MARKETDATA_QUALITY_GATE", "off")
        patch.setenv("QUANTMESH_REGIME_MAX_HISTORY_ROWS", "5000")
        patch.setenv("QUANTMESH_REGIME_CACHE_RETRY_S", "0.3")
        patch.setenv("QUANTMESH_REGIME_CACHE_TIMEOUT_S", "1.0")
        # Every lookup goes to MongoDB here; the in-process layer has its own tests.
        patch.setenv("QUANTMESH_REGIME_CACHE_MEMORY_ENTRIES", "0")
        settings = server_settings(tmp_path_factory.mktemp("regime"))
        running = await serve(settings, ["marketdata", "regime"])
        await running.mesh.marketdata.ingest(dji_bars(), Frequency.DAILY, "index")
        await running.mesh.marketdata.ingest(stock_bars(), Frequency.DAILY, "dow30")
        await running.mesh.regime.fit(["DJI"], end=TRAIN_END)
        yield running
        await shutdown(running)


async def drain(served: Served) -> None:
    """Wait for the regime service's background cache writes."""
    (regime,) = [s for s in served.server.services if s.name == "regime"]
    await regime.domain.cache.drain()  # type: ignore[attr-defined]


async def wait_for_watermark(served: Served, at_least: datetime) -> None:
    for _ in range(100):
        stats = await served.mesh.regime.cache_stats()
        if stats.ingest_watermark is not None and stats.ingest_watermark >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the regime service never saw the ingest")


async def test_a_fit_is_recorded_once_and_answers_with_persistent_regimes(served: Served) -> None:
    model, created = await served.mesh.regime.fit(["DJI"], end=TRAIN_END)
    assert not created  # the fixture fitted the same window on the same bars
    assert (model.name, model.version, model.aliases) == ("market", 1, ("champion",))
    assert model.median_duration_sessions >= 10
    assert model.train_end is not None and model.train_end <= TRAIN_END
    assert set(model.shares) == {r.name for r in Regime}
    models, token = await served.mesh.regime.list_models()
    assert [m.version for m in models] == [1] and token == ""


async def test_classify_answers_the_regime_then_serves_it_from_the_cache(served: Served) -> None:
    first = await served.mesh.regime.classify("DJI", utc("2011-09-15"))
    assert first.regime in {Regime.HIGH_VOL_STRESS, Regime.DOWNTREND}
    assert not first.cached
    assert abs(sum(first.probabilities.values()) - 1.0) < 1e-9
    assert (first.model_name, first.model_version) == ("market", 1)
    await drain(served)
    again = await served.mesh.regime.classify("DJI", utc("2011-09-15"))
    assert again.cached and again.regime == first.regime
    assert again.probabilities == pytest.approx(first.probabilities)
    neighbour = await served.mesh.regime.classify("DJI", utc("2011-09-16"))
    assert neighbour.cached  # one compute filled the bars around the first ask
    stats = await served.mesh.regime.cache_stats()
    assert stats.hits >= 2 and stats.misses >= 1 and stats.state == "HEALTHY"
    assert stats.hit_p99_ms > 0


async def test_a_weekend_date_is_answered_by_the_friday_bar(served: Served) -> None:
    answer = await served.mesh.regime.classify("DJI", utc("2017-06-10"))  # a Saturday
    assert answer.bar_time == utc("2017-06-09")
    assert answer.regime is Regime.CALM_UPTREND


async def test_history_streams_every_bar_after_warm_up(served: Served) -> None:
    table = await served.mesh.regime.history(["DJI", "KO"], utc("2013-01-01"), utc("2013-12-31"))
    assert table.schema.equals(HISTORY_SCHEMA)
    assert set(table.column("symbol").to_pylist()) == {"DJI", "KO"}
    dji = table.filter(pc.equal(table.column("symbol"), "DJI"))
    assert dji.num_rows == 252
    calm = pc.sum(pc.equal(dji.column("regime"), "CALM_UPTREND")).as_py() / dji.num_rows
    assert calm >= 0.6
    point = await served.mesh.regime.classify("DJI", utc("2013-06-03"))
    row = dji.filter(pc.equal(dji.column("time"), pa.scalar(utc("2013-06-03")))).to_pylist()[0]
    assert row["regime"] == point.regime.name
    assert row["p_calm_uptrend"] == pytest.approx(point.probabilities[Regime.CALM_UPTREND])


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda r: r.classify("NOPE", utc("2012-01-03")), NotFound, "NOPE"),
        (lambda r: r.classify("DJI", utc("2009-01-05")), OutOfRange, "warm-up"),
        (lambda r: r.classify("DJI", utc("2019-03-01")), OutOfRange, "after the last"),
        (lambda r: r.classify("DJI", utc("2012-01-03"), "market/7"), NotFound, "market/7"),
        (lambda r: r.classify("DJI", utc("2012-01-03"), "other@champion"), NotFound, "other"),
        (lambda r: r.classify(" ", utc("2012-01-03")), InvalidArgument, "symbol"),
        (lambda r: r.history([]), InvalidArgument, "symbols"),
        (lambda r: r.history(["DJI", *STOCKS]), InvalidArgument, "split"),
        (
            lambda r: r.history(["DJI"], utc("2014-01-01"), utc("2013-01-01")),
            InvalidArgument,
            "after end",
        ),
        (lambda r: r.history(["DJI"], utc("2020-01-01")), OutOfRange, "after the last bar"),
        (lambda r: r.fit(["DJI"], end=utc("2010-06-01")), FailedPrecondition, "at least"),
        (lambda r: r.fit(["DJI"], switch_probability=0.2), InvalidArgument, "switch_probability"),
        (lambda r: r.fit(["DJI"], name="no spaces"), InvalidArgument, "name"),
        (lambda r: r.fit(["DJI"], alias="best"), InvalidArgument, "alias"),
        (lambda r: r.list_models(page_token="garbage"), InvalidArgument, "page_token"),
    ],
)
async def test_bad_input_gets_the_right_status_and_the_service_stays_up(
    served: Served, call: object, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        await call(served.mesh.regime)  # type: ignore[operator]
    assert (await served.mesh.regime.classify("DJI", utc("2012-01-03"))).bar_time == utc(
        "2012-01-03"
    )


async def test_a_raw_request_without_a_model_uses_the_default_champion(served: Served) -> None:
    stub = regime_pb2_grpc.RegimeServiceStub(served.mesh.channel("regime"))
    reply = await stub.ClassifyRegime(regime_pb2.ClassifyRegimeRequest(symbol="DJI"))
    assert (reply.model_name, reply.model_version) == ("market", 1)
    assert reply.bar_time.ToDatetime() == datetime(2018, 11, 23)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetRegimeHistory(regime_pb2.GetRegimeHistoryRequest()).read()
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_revised_bar_is_never_answered_from_the_cache(served: Served) -> None:
    day = utc("2018-11-20")
    await served.mesh.regime.classify("KO", day)
    await drain(served)
    assert (await served.mesh.regime.classify("KO", day)).cached
    before = await served.mesh.regime.cache_stats()
    bars = stock_bars()
    revised = bars.filter(
        pc.and_(
            pc.equal(bars.column("symbol"), "KO"),
            pc.equal(bars.column("time"), pa.scalar(utc("2018-11-19"))),
        )
    )
    for column in ("open", "high", "low", "close"):
        index = revised.schema.get_field_index(column)
        revised = revised.set_column(index, column, pc.multiply(revised.column(column), 1.01))
    report = await served.mesh.marketdata.ingest(revised, Frequency.DAILY, "correction")
    await wait_for_watermark(served, report.ingestion_time)
    after = await served.mesh.regime.classify("KO", day)
    assert not after.cached
    stats = await served.mesh.regime.cache_stats()
    assert stats.invalidated == before.invalidated + 1


def moving_bars(after: datetime, symbol: str, price: float, steps: list[float]) -> pa.Table:
    """Synthetic sessions after the last real bar, each close moved by its step."""
    times, closes = [], []
    t = after
    for step in steps:
        t += timedelta(days=1)
        while t.weekday() >= 5:
            t += timedelta(days=1)
        price *= 1 + step
        times.append(t)
        closes.append(price)
    return pa.table(
        {
            "symbol": [symbol] * len(steps),
            "time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "volume": [5e7] * len(steps),
            "adj_close": closes,
        },
        schema=BAR_SCHEMA,
    )


def regime_shift(start: Regime) -> list[float]:
    """A steep, volatile sell-off after calm, or a long calm rally after stress."""
    if start in {Regime.HIGH_VOL_STRESS, Regime.DOWNTREND}:
        return [0.004 + (0.001 if i % 2 else -0.001) for i in range(160)]
    return [-0.04 if i % 2 == 0 else 0.015 for i in range(40)]


async def take(stream: AsyncIterator[RegimeUpdate], n: int) -> list[RegimeUpdate]:
    out: list[RegimeUpdate] = []
    async for update in stream:
        if not update.heartbeat:
            out.append(update)
        if len(out) == n:
            break
    return out


async def test_watch_streams_changes_as_bars_arrive_and_resumes_without_loss(
    served: Served,
) -> None:
    stream = served.mesh.regime.watch(["XOM"], heartbeat_s=0.2)
    (snapshot,) = await take(stream, 1)
    assert snapshot.snapshot and snapshot.sequence == 1
    assert [c.symbol for c in snapshot.changes] == ["XOM"]
    start = snapshot.changes[0].regime
    xom = stock_bars().filter(pc.equal(stock_bars().column("symbol"), "XOM"))
    last = xom.column("time")[-1].as_py()
    shift = moving_bars(last, "XOM", xom.column("close")[-1].as_py(), regime_shift(start))
    await served.mesh.marketdata.ingest(shift, Frequency.DAILY, "synthetic")
    (change,) = await take(stream, 1)
    await stream.aclose()  # type: ignore[attr-defined]
    (moved,) = change.changes
    assert moved.symbol == "XOM" and moved.previous == start and moved.regime != start
    assert moved.bar_time > last
    replay = await take(served.mesh.regime.watch(["XOM"], resume_after=0), 1)
    assert replay[0].cursor == change.cursor and replay[0].changes == change.changes
    with pytest.raises(OutOfRange, match="resume_after"):
        await take(served.mesh.regime.watch(["XOM"], resume_after=change.cursor + 100), 1)


async def test_mongodb_down_degrades_the_cache_and_it_heals_without_a_restart(
    served: Served,
    mongo: MongoServer,  # noqa: F811
) -> None:
    mongo.stop()
    try:
        answer = await served.mesh.regime.classify("DJI", utc("2014-03-03"))
        assert not answer.cached
        stats = await served.mesh.regime.cache_stats()
        assert stats.state == "DEGRADED" and stats.errors >= 1 and stats.last_error
        assert stats.degraded_since is not None
    finally:
        mongo.start()
    for _ in range(100):
        if (await served.mesh.regime.cache_stats()).state == "HEALTHY":
            break
        await asyncio.sleep(0.1)
    assert (await served.mesh.regime.cache_stats()).state == "HEALTHY"
    await served.mesh.regime.classify("DJI", utc("2014-03-04"))
    await drain(served)
    assert (await served.mesh.regime.classify("DJI", utc("2014-03-04"))).cached
