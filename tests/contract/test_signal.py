"""The signal service over real gRPC, with marketdata, MLflow (SQLite) and a real MongoDB.

One module-wide mesh: eight Dow stocks ingested except their last session, the default feature
view materialized, one model trained. Tests read it as a researcher and a strategy would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio
from quantmesh.common.v1 import model_ref_pb2
from quantmesh.signal.v1 import signal_pb2, signal_pb2_grpc

from services.clients.signal import SignalUpdate, wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.errors import (
    InvalidArgument,
    NotFound,
    OutOfRange,
    ResourceExhausted,
)
from services.runtime.mongo import MongoServer
from services.runtime.status_codes import from_rpc_error
from services.signal.domain.requests import TrainRequest
from tests.conftest import Served, require_shared_data, serve, server_settings, shutdown
from tests.mongo_server import mongo  # noqa: F401

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SYMBOLS = ("AAPL", "CSCO", "INTC", "JPM", "KO", "MSFT", "PFE", "XOM")
MODEL = "dow-direction"
SIGNAL_SERVICE = "quantmesh.signal.v1.SignalService"
FAST = {"n_estimators": 60.0, "learning_rate": 0.1, "min_data_in_leaf": 50.0}


@dataclass
class Mesh:
    served: Served
    bars: pa.Table
    last_day: pa.Table
    report: object


def dow_bars() -> pa.Table:
    folder = require_shared_data() / "daily" / "dow30"
    return pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Mesh]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTMESH_MONGO_URI", mongo.uri)
        patch.setenv("QUANTMESH_SIGNAL_TRAIN_THREADS", "1")
        settings = server_settings(tmp_path_factory.mktemp("signal"))
        served = await serve(settings, ["marketdata", "signal"])
        bars = dow_bars()
        last = pc.max(bars.column("time"))
        history = bars.filter(pc.less(bars.column("time"), last))
        await served.mesh.marketdata.ingest(history, Frequency.DAILY, "dow30")
        await served.mesh.marketdata.materialize_features("default", Frequency.DAILY)
        operation = await served.mesh.signal.train(
            TrainRequest(MODEL, label="direction_5", folds=3, params=FAST), "first"
        )
        report = await wait_for_training(served.mesh.operations("signal"), operation)
        yield Mesh(served, bars, bars.filter(pc.equal(bars.column("time"), last)), report)
        await shutdown(served)


async def test_training_reports_out_of_sample_metrics_without_a_leak_warning(mesh: Mesh) -> None:
    report = mesh.report
    assert report.model.name == MODEL and report.model.version == 1  # type: ignore[attr-defined]
    assert set(report.model.aliases) == {"champion", "challenger"}  # type: ignore[attr-defined]
    assert len(report.folds) == 3  # type: ignore[attr-defined]
    overall = report.overall  # type: ignore[attr-defined]
    assert overall.rows > 5_000 and 0.3 < overall.hit_rate < 0.7
    assert abs(overall.ic) < 0.15
    assert not [w for w in report.warnings if "leak" in w.lower()]  # type: ignore[attr-defined]
    assert len(report.model.features) >= 30  # type: ignore[attr-defined]


async def test_a_repeated_submit_with_the_same_request_id_is_the_same_operation(
    mesh: Mesh,
) -> None:
    request = TrainRequest(MODEL, label="direction_5", folds=3, params=FAST)
    first = await mesh.served.mesh.signal.train(request, "first")
    again = await mesh.served.mesh.signal.train(request, "first")
    assert first == again


async def test_score_answers_with_the_model_and_feature_versions_used(mesh: Mesh) -> None:
    answer = await mesh.served.mesh.signal.score(f"{MODEL}@champion", "msft")
    assert answer.symbol == "MSFT" and 0.0 < answer.score < 1.0
    assert answer.model.version == 1 and answer.model.feature_version
    day = answer.time - timedelta(days=7)
    earlier = await mesh.served.mesh.signal.score(MODEL, "MSFT", _session_on_or_before(mesh, day))
    assert earlier.time < answer.time


def _session_on_or_before(mesh: Mesh, day: object) -> object:
    times = mesh.bars.filter(pc.equal(mesh.bars.column("symbol"), "MSFT")).column("time")
    return max(t for t in times.to_pylist() if t <= day)  # type: ignore[operator]


async def test_batch_scores_match_single_scores_and_features_can_come_with_the_rows(
    mesh: Mesh,
) -> None:
    last = mesh.last_day.column("time")[0]
    known = mesh.bars.filter(pc.less(mesh.bars.column("time"), last))
    keys = known.filter(pc.is_in(known.column("symbol"), pa.array(["KO", "PFE"])))
    keys = keys.select(["symbol", "time"]).slice(keys.num_rows // 2 - 50, 100)  # KO then PFE
    scored = await mesh.served.mesh.signal.score_batch(MODEL, keys)
    assert scored.column("symbol").to_pylist() == keys.column("symbol").to_pylist()
    one = await mesh.served.mesh.signal.score(MODEL, "KO", keys.column("time")[0].as_py())
    assert scored.column("score")[0].as_py() == pytest.approx(one.score, abs=1e-12)
    _, features = await mesh.served.mesh.marketdata.get_features(
        "default", None, ["KO"], keys.column("time")[0].as_py()
    )
    with_features = await mesh.served.mesh.signal.score_batch(MODEL, features.slice(0, 1))
    assert with_features.column("score")[0].as_py() == pytest.approx(one.score, abs=1e-12)


async def test_explanations_add_up_to_the_raw_score(mesh: Mesh) -> None:
    explained = await mesh.served.mesh.signal.explain(MODEL, "JPM")
    total = explained.bias + sum(c.contribution for c in explained.contributions)
    assert total == pytest.approx(explained.raw_score, abs=1e-9)
    top = await mesh.served.mesh.signal.explain(MODEL, "JPM", top=3)
    assert len(top.contributions) == 3
    magnitudes = [abs(c.contribution) for c in top.contributions]
    assert magnitudes == sorted(magnitudes, reverse=True)


async def test_promoting_moves_serving_to_the_new_version_without_a_restart(mesh: Mesh) -> None:
    signal = mesh.served.mesh.signal
    operation = await signal.train(
        TrainRequest(MODEL, label="direction_5", folds=2, params=FAST, alias="challenger"),
        "second",
    )
    report = await wait_for_training(mesh.served.mesh.operations("signal"), operation)
    assert report.model.version == 2 and list(report.model.aliases) == ["challenger"]
    assert (await signal.score(f"{MODEL}@champion", "KO")).model.version == 1
    promoted = await signal.promote(MODEL, 2)
    assert promoted.previous_version == 1
    assert (await signal.score(f"{MODEL}@champion", "KO")).model.version == 2
    listed = await signal.list_models(MODEL, page_size=1)
    assert [m.version for m in listed.models] == [2] and listed.next_page_token
    rest = await signal.list_models(MODEL, page_token=listed.next_page_token)
    assert [m.version for m in rest.models] == [1]
    await signal.promote(MODEL, 1)


async def next_signals(stream: AsyncIterator[SignalUpdate]) -> SignalUpdate:
    async with asyncio.timeout(30):
        async for update in stream:
            if not update.heartbeat:
                return update
    raise AssertionError("stream ended")


async def test_subscribers_receive_one_signal_per_symbol_for_a_new_day_and_can_resume(
    mesh: Mesh,
) -> None:
    signal = mesh.served.mesh.signal
    stream = signal.subscribe(MODEL, ["KO", "MSFT", "XOM"], heartbeat_s=0.2)
    beat = await anext(stream)  # subscribed: heartbeats flow while idle
    assert beat.heartbeat
    await mesh.served.mesh.marketdata.ingest(mesh.last_day, Frequency.DAILY, "new day")
    update = await next_signals(stream)
    assert set(update.signals) == {"KO", "MSFT", "XOM"}
    assert update.bar_time == mesh.last_day.column("time")[0].as_py()
    assert update.model_version == 1
    await stream.aclose()

    replay = signal.subscribe(MODEL, ["KO"], resume_after=update.cursor - 1, heartbeat_s=0.2)
    again = await next_signals(replay)
    assert (again.cursor, again.signals.keys()) == (update.cursor, {"KO"})
    assert again.signals["KO"] == update.signals["KO"]
    assert (await anext(replay)).heartbeat  # nothing twice
    await replay.aclose()


async def test_bad_requests_get_the_right_status(mesh: Mesh) -> None:
    signal = mesh.served.mesh.signal
    with pytest.raises(NotFound):
        await signal.score("no-such-model", "KO")
    with pytest.raises(InvalidArgument, match="alias"):
        await raw_score(mesh, model_ref_pb2.ModelRef(name=MODEL, alias="production"), "KO")
    with pytest.raises(NotFound):
        await raw_score(mesh, model_ref_pb2.ModelRef(name=MODEL, version=99), "KO")
    with pytest.raises(InvalidArgument, match="name"):
        await raw_score(mesh, model_ref_pb2.ModelRef(), "KO")
    with pytest.raises(NotFound, match="ZZZZ"):
        await signal.score(MODEL, "ZZZZ")
    with pytest.raises(OutOfRange):
        await signal.score(MODEL, "KO", mesh.bars.column("time")[0].as_py() - timedelta(days=900))
    with pytest.raises(InvalidArgument):
        await signal.score_batch(MODEL, pa.table({"symbol": pa.array([], pa.string())}))
    huge = pa.table(
        {
            "symbol": pa.array(["KO"] * 100_001),
            "time": pa.array([0] * 100_001, pa.timestamp("us", tz="UTC")),
        }
    )
    with pytest.raises(ResourceExhausted):
        await signal.score_batch(MODEL, huge)
    with pytest.raises(InvalidArgument, match="params"):
        await signal.train(TrainRequest(MODEL, params={"max_depthh": 3.0}))
    with pytest.raises(InvalidArgument, match="label"):
        await signal.train(TrainRequest(MODEL, label="fwd_ret_7x"))
    with pytest.raises(NotFound):
        await signal.train(TrainRequest(MODEL, feature_version="no-such-version"))
    assert (await mesh.served.mesh.health("signal").check(SIGNAL_SERVICE)).status == "SERVING"


async def raw_score(mesh: Mesh, ref: model_ref_pb2.ModelRef, symbol: str) -> object:
    """Score with a reference built on the wire (the client refuses unknown aliases itself)."""
    stub = signal_pb2_grpc.SignalServiceStub(mesh.served.mesh.channel("signal"))
    try:
        return await stub.Score(signal_pb2.ScoreRequest(model=ref, symbol=symbol))
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
