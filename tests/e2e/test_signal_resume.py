"""A signal subscriber survives a restart of the signal server with no gap and no duplicate.

marketdata and signal run as two servers on their own ports (signal finds marketdata through
QUANTMESH_MARKETDATA_ADDRESS); the signal server is stopped mid-stream, a day is ingested while
it is down, and a new signal server on the same stores catches up from the ingest log, so the
client that resumes from its last cursor receives exactly the days it missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.clients.mesh import MeshClient
from services.clients.signal import SignalUpdate, wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.errors import Unavailable
from services.runtime.mongo import MongoServer
from services.runtime.settings import RuntimeSettings, load
from services.signal.domain.requests import TrainRequest
from tests.conftest import require_shared_data, serve, shutdown
from tests.mongo_server import mongo  # noqa: F401

pytestmark = pytest.mark.slow
SYMBOLS = ("AAPL", "JPM", "KO", "MSFT", "XOM")
MODEL = "resume"


def settings_for(folder: Path) -> RuntimeSettings:
    return load(
        RuntimeSettings,
        environ={},
        port=0,
        host="127.0.0.1",
        data_dir=folder,
        shutdown_grace_s=0.5,
    )


async def signals(stream: AsyncIterator[SignalUpdate], count: int) -> list[SignalUpdate]:
    got: list[SignalUpdate] = []
    async with asyncio.timeout(60):
        async for update in stream:
            if not update.heartbeat:
                got.append(update)
                if len(got) == count:
                    return got
    raise AssertionError(f"stream ended after {len(got)} of {count} signal messages")


async def test_resume_after_a_signal_server_restart_has_no_gap_and_no_duplicate(
    tmp_path: Path,
    mongo: MongoServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    days = sorted(set(bars.column("time").to_pylist()))
    history = bars.filter(pc.less(bars.column("time"), days[-3]))

    def day(index: int) -> pa.Table:
        return bars.filter(pc.equal(bars.column("time"), days[index]))

    market = await serve(settings_for(tmp_path / "marketdata"), ["marketdata"])
    monkeypatch.setenv("QUANTMESH_MARKETDATA_ADDRESS", market.address)
    monkeypatch.setenv("QUANTMESH_MONGO_URI", mongo.uri)
    monkeypatch.setenv("QUANTMESH_SIGNAL_TRAIN_THREADS", "1")
    signal_dir = tmp_path / "signal"
    signal = await serve(settings_for(signal_dir), ["signal"])
    try:
        await market.mesh.marketdata.ingest(history, Frequency.DAILY)
        await market.mesh.marketdata.materialize_features("default", Frequency.DAILY)
        operation = await signal.mesh.signal.train(
            TrainRequest(MODEL, folds=2, params={"n_estimators": 30.0})
        )
        await wait_for_training(signal.mesh.operations("signal"), operation)

        # The strategy's own client: it outlives the server it talks to.
        strategy = MeshClient(signal.settings, address=signal.address)
        stream = strategy.signal.subscribe(MODEL, heartbeat_s=0.2)
        assert (await anext(stream)).heartbeat  # subscribed
        await market.mesh.marketdata.ingest(day(-3), Frequency.DAILY)
        [first] = await signals(stream, 1)
        assert first.bar_time == days[-3] and set(first.signals) == set(SYMBOLS)

        # The signal server goes away mid-stream; two days arrive while it is down.
        await shutdown(signal)
        with pytest.raises(Unavailable):
            await signals(stream, 1)
        await strategy.close()
        await market.mesh.marketdata.ingest(day(-2), Frequency.DAILY)
        await market.mesh.marketdata.ingest(day(-1), Frequency.DAILY)

        signal = await serve(settings_for(signal_dir), ["signal"])
        strategy = MeshClient(signal.settings, address=signal.address)
        resumed = strategy.signal.subscribe(MODEL, resume_after=first.cursor, heartbeat_s=0.2)
        missed = await signals(resumed, 2)
        assert [m.bar_time for m in missed] == [days[-2], days[-1]]
        assert [m.cursor for m in missed] == [first.cursor + 1, first.cursor + 2]
        assert all(set(m.signals) == set(SYMBOLS) for m in missed)
        # Nothing twice: the next message is a heartbeat.
        async with asyncio.timeout(10):
            assert (await anext(resumed)).heartbeat
        await resumed.aclose()
        await strategy.close()
    finally:
        await shutdown(signal)
        await shutdown(market)
