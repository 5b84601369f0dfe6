"""The live signal path's shortcuts: SubscribeSignals builds a batch's message once for all its
subscribers (each still gets its own sequence and cursor), and the followed streams are read
from the database once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import duckdb
import pyarrow as pa
import pytest
from quantmesh.signal.v1 import signal_pb2 as pb

from services.runtime.time_convert import from_timestamp
from services.signal.domain.follow_state import FollowState
from services.signal.domain.refs import FeatureViewRef, ModelRef
from services.signal.domain.service import Signals
from services.signal.domain.signal_log import Signal, SignalBatch, SignalLog
from services.signal.domain.subscriptions import SubscriptionHub
from services.signal.servicer import BATCH_MESSAGES, SignalServicer

DAY = datetime(2024, 3, 4, tzinfo=UTC)
STREAM = "alpha@champion"


def _batch(sequence: int, scores: tuple[float, ...] = (0.25, 0.5)) -> SignalBatch:
    signals = tuple(Signal(s, v) for s, v in zip(("AAPL", "IBM"), scores, strict=False))
    return SignalBatch(sequence, STREAM, 3, "fv1", DAY, DAY, signals)


def _servicer(domain: object = None) -> SignalServicer:
    return SignalServicer(cast(Signals, domain), cast(Any, None))


def test_a_batch_message_is_built_once_and_only_for_that_batch() -> None:
    servicer = _servicer()
    batch = _batch(7)
    message = servicer._batch_message(batch)
    assert from_timestamp(message.bar_time) == DAY
    assert [(s.symbol, s.score) for s in message.signals] == [("AAPL", 0.25), ("IBM", 0.5)]
    assert (message.model_name, message.model_version, message.feature_version) == (
        "alpha",
        3,
        "fv1",
    )
    assert servicer._batch_message(batch) is message
    # An equal but distinct batch object, and another batch found under a reused id, each get
    # their own message: the cache answers only for the very object it was built from.
    twin = _batch(7)
    assert servicer._batch_message(twin) is not message
    other = _batch(8, (0.75, 0.125))
    servicer._batches[id(other)] = (batch, message)
    assert [s.score for s in servicer._batch_message(other).signals] == [0.75, 0.125]


def test_batch_messages_kept_are_bounded() -> None:
    servicer = _servicer()
    batches = [_batch(i) for i in range(BATCH_MESSAGES + 10)]
    for batch in batches:
        servicer._batch_message(batch)
    assert len(servicer._batches) == BATCH_MESSAGES
    assert id(batches[-1]) in servicer._batches and id(batches[0]) not in servicer._batches


class _Domain:
    """What SubscribeSignals needs of Signals: `subscribe`, over a real hub."""

    def __init__(self, hub: SubscriptionHub) -> None:
        self.hub = hub
        self.model = SimpleNamespace(
            name="alpha", version=3, feature_view=FeatureViewRef("default", "fv1", DAY)
        )

    async def subscribe(
        self, ref: ModelRef, symbols: list[str], resume_after: int | None, heartbeat_s: float
    ) -> tuple[object, object]:
        subscription = await self.hub.subscribe(ref, symbols or None, resume_after)
        subscription.heartbeat_s = heartbeat_s
        return self.model, subscription


async def test_every_subscriber_gets_the_batch_with_its_own_sequence() -> None:
    hub = SubscriptionHub(SignalLog(duckdb.connect()), heartbeat_s=10.0)
    servicer = _servicer(_Domain(hub))
    request = pb.SubscribeSignalsRequest(heartbeat_interval_ms=10_000)
    request.model.name = "alpha"
    request.model.alias = "champion"
    ibm_only = pb.SubscribeSignalsRequest()
    ibm_only.CopyFrom(request)
    ibm_only.symbols.append("IBM")
    streams = [servicer.SubscribeSignals(r, cast(Any, None)) for r in (request, request, ibm_only)]
    pending = [asyncio.ensure_future(anext(s)) for s in streams]
    await asyncio.sleep(0.05)  # every stream subscribed and waiting
    await hub.publish(STREAM, 3, "fv1", DAY, [Signal("AAPL", 0.25), Signal("IBM", 0.5)])
    first = await asyncio.wait_for(asyncio.gather(*pending), 5)
    await hub.publish(STREAM, 3, "fv1", DAY.replace(day=5), [Signal("AAPL", 0.75)])
    second = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams[:2])), 5)
    for response in first:
        assert response.sequence == 1 and response.cursor == 1
    assert [s.symbol for s in first[0].signals.signals] == ["AAPL", "IBM"]
    assert first[0].signals == first[1].signals
    assert [(s.symbol, s.score) for s in first[2].signals.signals] == [("IBM", 0.5)]
    for response in second:
        assert response.sequence == 2 and response.cursor == 2
        assert [(s.symbol, s.score) for s in response.signals.signals] == [("AAPL", 0.75)]
    # A message sent is the subscriber's own: changing one leaves the others alone.
    first[0].signals.signals[0].score = -1.0
    assert first[1].signals.signals[0].score == 0.25
    await hub.close()
    for stream in streams:
        await stream.aclose()


def test_followed_streams_are_read_once_then_kept_in_memory(tmp_path: Any) -> None:
    path = str(tmp_path / "signal.duckdb")
    db = duckdb.connect(path)
    follow = FollowState(db.cursor())
    follow.add_stream("b@champion")
    assert follow.known_streams() is None  # not read yet
    assert follow.streams() == ["b@champion"]
    follow.add_stream("a@champion")
    follow.add_stream("a@champion")
    assert follow.known_streams() == ["a@champion", "b@champion"]
    db.execute("DELETE FROM followed_streams")  # not this object's doing: not seen
    assert follow.streams() == ["a@champion", "b@champion"]
    db.close()
    db = duckdb.connect(path)
    again = FollowState(db.cursor())
    assert again.streams() == []
    again.add_stream("c@champion")
    db.close()
    db = duckdb.connect(path)
    assert FollowState(db.cursor()).streams() == ["c@champion"]
    db.close()


@pytest.mark.parametrize("known", [True, False])
async def test_scoring_a_notice_asks_the_database_for_streams_only_when_unknown(
    known: bool,
) -> None:
    calls: list[str] = []

    class Follow:
        def known_streams(self) -> list[str] | None:
            calls.append("known")
            return [] if known else None

        def streams(self) -> list[str]:
            calls.append("read")
            return []

        def set_watermark(self, at: datetime) -> None:
            calls.append("watermark")

    signals = Signals(*(cast(Any, None),) * 3, cast(Any, None), cast(FollowState, Follow()))
    notice = SimpleNamespace(ingested_at=DAY)
    assert await signals.score_notice(cast(Any, notice)) == 0
    assert calls == (["known", "watermark"] if known else ["known", "read", "watermark"])


@pytest.mark.parametrize("in_memory", [True, False])
async def test_a_due_alias_refresh_waits_until_the_signals_are_out(in_memory: bool) -> None:
    """Live scoring takes the model from memory when it can and starts the alias refresh that
    `aget` would have started only after publishing; a model never resolved is asked for
    first, as before."""
    events: list[str] = []
    view = SimpleNamespace(version="fv1", frequency="1d")
    scores = pa.table({"symbol": ["AAPL"], "time": [DAY], "score": [0.5]})

    class Model:
        feature_view = SimpleNamespace(name="default", version="fv1")

        def score(self, table: pa.Table) -> pa.Table:
            events.append("score")
            return scores

    model = Model()

    class Resolver:
        def without_refresh(self, ref: ModelRef) -> object:
            events.append("memory")
            return model if in_memory else None

        async def aget(self, ref: ModelRef) -> object:
            events.append("aget")
            return model

    class Features:
        async def read_features(self, *args: object, **kwargs: object) -> tuple[object, object]:
            events.append("features")
            return view, scores.select(["symbol", "time"])

    class Hub:
        async def publish_scores(self, ref: ModelRef, model: object, table: pa.Table) -> list[int]:
            events.append("publish")
            return [1]

    class Follow:
        def known_streams(self) -> list[str]:
            return [STREAM]

        def set_watermark(self, at: datetime) -> None:
            events.append("watermark")

    signals = Signals(
        cast(Any, None),
        cast(Any, Resolver()),
        cast(Any, Hub()),
        cast(Any, Features()),
        cast(Any, Follow()),
    )
    notice = SimpleNamespace(symbols=["AAPL"], first_time=DAY, frequency="1d", ingested_at=DAY)
    assert await signals.score_notice(cast(Any, notice)) == 1
    scored = ["features", "score", "publish", "watermark"]
    assert events == (["memory", *scored, "aget"] if in_memory else ["memory", "aget", *scored])
