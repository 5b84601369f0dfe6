"""The backtest service over real gRPC, with marketdata, signal, regime and a real MongoDB.

One module-wide mesh: four Dow stocks and the DJI index ingested, the default feature view
materialized on the stocks, a signal model trained up to 2014, a regime model fitted on DJI up to
2016. Every backtest reads its inputs over the mesh; each test checks the service's answer
against the engine run in-process on the same inputs read through the typed clients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio
from quantmesh.backtest.v1 import backtest_pb2, backtest_pb2_grpc
from quantmesh.common.v1 import bar_pb2

from backtest import (
    Costs,
    Limits,
    MemoryBars,
    MemoryRegimes,
    MemorySignals,
    Operator,
    Rule,
    RuleGroup,
    Rules,
    Sources,
    StrategyConfig,
    run_backtest,
    sma_crossover,
)
from backtest.results import BacktestResult
from services.backtest.domain.records import BacktestState
from services.clients.backtest import SubmittedBacktest
from services.clients.signal import wait_for_training
from services.forecast.domain.requests import ForecastRequest
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
)
from services.runtime.mongo import MongoServer
from services.runtime.operations.model import OperationRecord, OperationState
from services.signal.domain.requests import TrainRequest
from tests.conftest import Served, require_shared_data, serve, server_settings, shutdown
from tests.mongo_server import mongo  # noqa: F401
from tests.unit.regime.conftest import dji_bars

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

STOCKS = ("KO", "MSFT", "XOM", "JPM")
MODEL = "bt-direction"
FAST = {"n_estimators": 40.0, "learning_rate": 0.1, "min_data_in_leaf": 50.0}
SCORE_CHUNK = 3_000


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


START, END = utc("2013-01-01"), utc("2017-01-01")


@dataclass
class Mesh:
    served: Served
    bars: pa.Table


def stock_bars() -> pa.Table:
    folder = require_shared_data() / "daily" / "dow30"
    return pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in STOCKS])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Mesh]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTMESH_MONGO_URI", mongo.uri)
        patch.setenv("QUANTMESH_MARKETDATA_QUALITY_GATE", "off")
        patch.setenv("QUANTMESH_SIGNAL_TRAIN_THREADS", "1")
        patch.setenv("QUANTMESH_BACKTEST_SCORE_BATCH_ROWS", str(SCORE_CHUNK))
        settings = server_settings(tmp_path_factory.mktemp("backtest"))
        served = await serve(settings, ["marketdata", "signal", "regime", "backtest", "forecast"])
        md = served.mesh.marketdata
        await md.ingest(stock_bars(), Frequency.DAILY, "dow30")
        await md.ingest(dji_bars(), Frequency.DAILY, "index")
        await md.materialize_features("default", Frequency.DAILY, STOCKS)
        training = await served.mesh.signal.train(
            TrainRequest(MODEL, symbols=STOCKS, end=utc("2015-01-01"), folds=2, params=FAST),
            "train",
        )
        await wait_for_training(served.mesh.operations("signal"), training)
        await served.mesh.regime.fit(["DJI"], end=utc("2016-12-31"))
        bars = await md.get_bars([*STOCKS, "DJI"], Frequency.DAILY)
        yield Mesh(served, bars)
        await shutdown(served)


async def in_process(config: StrategyConfig, mesh: Mesh, **sources: object) -> BacktestResult:
    """The engine in this process, on the same bars (and other inputs) the service read."""
    return await run_backtest(config, Sources(bars=MemoryBars(mesh.bars), **sources))  # type: ignore[arg-type]


async def watch(mesh: Mesh, run: SubmittedBacktest) -> list[OperationRecord]:
    return [r async for r in mesh.served.mesh.backtest.operations.watch(run.operation)]


def sma(**changes: object) -> StrategyConfig:
    fields: dict[str, object] = {"start": START, "end": END, **changes}
    return sma_crossover(STOCKS, 10, 30, **fields)  # type: ignore[arg-type]


async def test_an_sma_crossover_runs_as_an_operation_and_matches_the_engine(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    run = await client.run(sma())
    assert run.operation.startswith("operations/backtest/")
    assert run.name == "backtests/" + run.operation.rsplit("/", 1)[1]
    seen = await watch(mesh, run)
    states = [r.state for r in seen]
    assert states[-1] is OperationState.SUCCEEDED and seen[-1].progress == 1.0
    progress = [r.progress for r in seen]
    assert progress == sorted(progress)
    done = await client.wait(run)
    expected = await in_process(sma(), mesh)
    assert done.state is BacktestState.SUCCEEDED
    assert done.kpis == expected.kpis
    assert await client.kpis(run.name) == expected.kpis
    assert done.kpis is not None and done.kpis.fills > 0
    stored = await client.get(run.name)
    assert stored.config == sma() and stored.kpis == expected.kpis
    stocks = mesh.bars.filter(pc.is_in(mesh.bars.column("symbol"), pa.array(STOCKS)))
    assert stored.provenance.data_watermark == pc.max(stocks.column("ingested_at")).as_py()
    assert stored.provenance.signal_model is None and stored.start_time is not None
    assert stored.end_time is not None and stored.end_time >= stored.start_time


async def test_the_equity_stream_has_every_bar_and_the_trades_every_fill(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    done = await client.run_and_wait(sma(name="streams"))
    expected = await in_process(sma(), mesh)
    equity = await client.stream_equity(done.name)
    stocks = mesh.bars.filter(pc.is_in(mesh.bars.column("symbol"), pa.array(STOCKS)))
    times = pc.unique(stocks.column("time"))
    in_window = pc.and_(pc.greater_equal(times, pa.scalar(START)), pc.less(times, pa.scalar(END)))
    assert equity.num_rows == pc.sum(in_window).as_py() == done.bar_count
    assert equity.column("time").to_pylist() == sorted(times.filter(in_window).to_pylist())
    np.testing.assert_array_equal(equity.column("equity").to_numpy(), expected.equity.equity)
    trades = await client.trades(done.id)
    assert trades.to_pylist() == expected.trades.to_table().to_pylist()
    assert trades.num_rows == done.trade_count


async def test_the_forecast_service_reads_a_backtests_returns_by_its_id(mesh: Mesh) -> None:
    done = await mesh.served.mesh.backtest.run_and_wait(sma(name="forecast"))
    result = await mesh.served.mesh.forecast.forecast_kpis(
        ForecastRequest(backtest_id=done.name, horizon=20, paths=200, seed=1)
    )
    assert result.history_length == done.bar_count - 1  # returns between consecutive bars
    assert result.horizon == 20 and result.origin_time is not None
    (forecast,) = result.forecasts
    assert forecast.path_bands.shape == (len(result.percentiles), 20)
    assert (np.diff(forecast.path_bands, axis=0) >= 0).all()  # bands ordered by percentile


async def test_a_repeated_request_id_is_the_same_run(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    config = sma(name="dedupe")
    first = await client.run(config, "same-submit")
    again = await client.run(config, "same-submit")
    assert again == first
    await client.wait(first)
    assert (await client.run(config, "same-submit")) == first
    runs, _ = await client.list(strategy_name="dedupe")
    assert [r.id for r in runs] == [first.name.split("/")[1]]
    assert runs[0].request_id == "same-submit"
    with pytest.raises(AlreadyExists, match="request_id"):
        await client.run(sma(name="dedupe", initial_cash=5e5), "same-submit")


async def test_backtests_are_listed_newest_first_page_by_page(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    names = []
    for fast, slow in ((5, 20), (10, 40), (20, 60)):
        config = sma_crossover(STOCKS, fast, slow, start=START, end=END, name="grid")
        names.append((await client.run_and_wait(config)).name)
    listed, token, pages = [], "", 0
    while True:
        page, token = await client.list("grid", page_size=2, page_token=token)
        listed += [r.name for r in page]
        pages += 1
        if not token:
            break
    assert listed == names[::-1] and pages == 2
    succeeded, _ = await client.list(state=BacktestState.SUCCEEDED, page_size=500)
    assert set(names) <= {r.name for r in succeeded}
    comparison = {r.config.rules: r.kpis for r in succeeded if r.config.name == "grid"}
    assert len(comparison) == 3  # three configs, three distinct KPI sets to compare
    with pytest.raises(InvalidArgument, match="page_token"):
        await client.list(
            "other", page_size=2, page_token=(await client.list("grid", page_size=2))[1]
        )


async def test_a_regime_filter_reads_the_regime_service(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    trend = Rule.sma_cross(10, 30, Operator.GT)
    config = dataclasses.replace(
        sma(),
        name="sma_calm",
        rules=Rules(long_entry=RuleGroup.of(trend, Rule.regime_in("CALM_UPTREND", symbol="DJI"))),
        regime_model="market@champion",
    )
    lower = Rules(long_entry=RuleGroup.of(trend, Rule.regime_in("calm_uptrend", symbol="dji")))
    done = await client.run_and_wait(dataclasses.replace(config, rules=lower))
    assert done.config == config  # labels and symbols upper-cased as the services keep them
    used = done.provenance.regime_model
    assert used is not None and (used.name, used.version) == ("market", 1)
    assert used.feature_version
    history = await mesh.served.mesh.regime.history(["DJI"], utc("2012-10-01"), END)
    regimes = MemoryRegimes(history.select(["symbol", "time", "regime"]))
    expected = await in_process(config, mesh, regimes=regimes)
    assert done.kpis == expected.kpis
    labels = dict(
        zip(history.column("time").to_pylist(), history.column("regime").to_pylist(), strict=True)
    )
    trades = await client.trades(done.name)
    buys = trades.filter(pc.equal(trades.column("side"), "BUY"))
    assert buys.num_rows > 0
    assert {labels[t] for t in buys.column("decision_time").to_pylist()} == {"CALM_UPTREND"}
    unfiltered = await client.kpis((await client.run_and_wait(sma())).name)
    assert done.kpis is not None and done.kpis.time_in_market < unfiltered.time_in_market


async def test_a_signal_strategy_scores_in_batches_with_the_model_it_records(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    start, end = utc("2015-01-01"), utc("2018-11-01")  # after the model's training window
    config = dataclasses.replace(
        sma(),
        name="signal",
        start=start,
        end=end,
        rules=Rules(long_entry=RuleGroup.of(Rule.signal(Operator.GT, 0.5))),
        signal_model=f"{MODEL}@champion",
    )
    run = await client.run(config)
    seen = await watch(mesh, run)
    assert any(0 < r.progress < 1 and r.state is OperationState.RUNNING for r in seen)
    done = await client.wait(run)
    used = done.provenance.signal_model
    assert used is not None and (used.name, used.version) == (MODEL, 1) and used.feature_version
    rows = mesh.bars.filter(pc.is_in(mesh.bars.column("symbol"), pa.array(STOCKS)))
    rows = rows.filter(pc.greater_equal(rows.column("time"), pa.scalar(utc("2014-11-01"))))
    rows = rows.filter(pc.less(rows.column("time"), pa.scalar(end))).select(["symbol", "time"])
    assert rows.num_rows > SCORE_CHUNK  # the service needed several ScoreBatch calls
    scores = await mesh.served.mesh.signal.score_batch(f"{MODEL}/1", rows)
    expected = await in_process(config, mesh, signals=MemorySignals(scores))
    assert done.kpis == expected.kpis
    assert done.kpis is not None and done.kpis.fills > 0
    assert done.provenance.warnings == ()
    in_sample = await client.run_and_wait(dataclasses.replace(config, start=START, end=END))
    (warning,) = in_sample.provenance.warnings
    assert "in sample" in warning and MODEL in warning, warning


def _field(exc: BaseException) -> list[str]:
    return [v.field for v in getattr(exc, "violations", ())]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (dataclasses.replace(sma(), universe=()), "config.universe"),
        (dataclasses.replace(sma(), universe=("KO", "NOPE")), "config.universe[1]"),
        (dataclasses.replace(sma(), benchmark="NOPE"), "config.benchmark"),
        (sma(costs=Costs(commission_bps=-1.0)), "config.costs.commission_bps"),
        (sma(costs=Costs(slippage_bps=float("nan"))), "config.costs.slippage_bps"),
        (sma(limits=Limits(gross_leverage=1.0, net_leverage=1.5)), "config.limits.net_leverage"),
        (
            sma(limits=Limits(max_position_weight=2.0, gross_leverage=1.0)),
            "config.limits.max_position_weight",
        ),
        (sma(weight=1.5), "config.sizing.weight"),
        (
            dataclasses.replace(
                sma(),
                rules=Rules(
                    long_entry=RuleGroup.of(Rule.sma_cross(10, 30, Operator.GT)),
                    long_exit=RuleGroup.of(Rule.sma_cross(10, 30, Operator.GE)),
                ),
            ),
            "config.rules.long_exit",
        ),
        (
            dataclasses.replace(
                sma(),
                rules=Rules(
                    long_entry=RuleGroup.of(Rule.sma_cross(10, 30, Operator.GT)),
                    short_entry=RuleGroup.of(Rule.sma_cross(10, 30, Operator.GT)),
                ),
            ),
            "config.rules.short_entry",
        ),
        (
            dataclasses.replace(
                sma(), rules=Rules(long_entry=RuleGroup.of(Rule.regime_in("CALM_UPTREND")))
            ),
            "config.rules.long_entry.rules[0].source",
        ),
        (
            dataclasses.replace(
                sma(),
                regime_model="market",
                rules=Rules(long_entry=RuleGroup.of(Rule.regime_in("BULL", symbol="DJI"))),
            ),
            "config.rules.long_entry.rules[0].labels[0]",
        ),
        (sma(start=END, end=START), "config.time_range.end"),
        (sma(rules=Rules()), "config.rules"),
    ],
)
async def test_bad_configs_are_invalid_argument_naming_the_field(
    mesh: Mesh, config: StrategyConfig, field: str
) -> None:
    client = mesh.served.mesh.backtest
    before = len((await client.list(page_size=500))[0])
    with pytest.raises(InvalidArgument) as caught:
        await client.run(config)
    assert field in _field(caught.value), _field(caught.value)
    health = await mesh.served.mesh.health("backtest").check(
        "quantmesh.backtest.v1.BacktestService"
    )
    assert health.status == "SERVING"
    assert len((await client.list(page_size=500))[0]) == before  # no backtest was recorded


async def test_raw_requests_missing_parts_are_invalid_argument(mesh: Mesh) -> None:
    stub = backtest_pb2_grpc.BacktestServiceStub(mesh.served.mesh.channel("backtest"))
    requests = {
        "config": backtest_pb2.RunBacktestRequest(),
        "config.frequency": backtest_pb2.RunBacktestRequest(
            config=backtest_pb2.StrategyConfig(universe=["KO"])
        ),
        "request_id": backtest_pb2.RunBacktestRequest(
            config=backtest_pb2.StrategyConfig(universe=["KO"], frequency=bar_pb2.FREQUENCY_DAILY),
            request_id="x" * 201,
        ),
    }
    for field, request in requests.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.RunBacktest(request)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in (caught.value.details() or "")


async def test_unknown_and_unfinished_backtests(mesh: Mesh) -> None:
    client = mesh.served.mesh.backtest
    for call in (client.get, client.kpis, client.stream_equity, client.trades):
        with pytest.raises(NotFound, match="backtests/nope"):
            await call("backtests/nope")
    with pytest.raises(InvalidArgument, match="name"):
        await client.get("other/thing")
    late = sma(name="late", start=utc("2030-01-01"), end=utc("2031-01-01"))
    run = await client.run(late)
    with pytest.raises(OutOfRange):
        await client.wait(run)
    failed = await client.get(run.name)
    assert failed.state is BacktestState.FAILED
    assert failed.error is not None and failed.error.code == "OUT_OF_RANGE"
    with pytest.raises(FailedPrecondition, match="FAILED"):
        await client.kpis(run.name)
    with pytest.raises(FailedPrecondition):
        await client.stream_equity(run.name)
    assert (await client.run_and_wait(sma(name="after"))).state is BacktestState.SUCCEEDED
