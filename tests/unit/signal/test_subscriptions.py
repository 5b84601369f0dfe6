"""SubscriptionHub: fan-out per bar time, resume without gap or duplicate, heartbeats, slow
consumers and shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from services.runtime.errors import InvalidArgument, OutOfRange, ResourceExhausted, Unavailable
from services.signal.domain.refs import FeatureViewRef
from services.signal.domain.results import TrainingResult
from services.signal.domain.scoring import SCORE_SCHEMA, ScoringModel
from services.signal.domain.signal_log import Signal, SignalLog
from services.signal.domain.subscriptions import SignalMessage, Subscription, SubscriptionHub

DAY = datetime(2024, 3, 4, tzinfo=UTC)
STREAM = "alpha@champion"
SYMBOLS = ("AAPL", "IBM", "MSFT")


def _day(n: int) -> datetime:
    return DAY + timedelta(days=n)


def _signals(symbols: tuple[str, ...] = SYMBOLS, score: float = 0.5) -> list[Signal]:
    return [Signal(s, score) for s in symbols]


@pytest.fixture
def hub() -> SubscriptionHub:
    return SubscriptionHub(SignalLog(duckdb.connect()), heartbeat_s=10.0)


async def _take(subscription: Subscription, n: int, timeout: float = 5.0) -> list[SignalMessage]:
    async def take() -> list[SignalMessage]:
        out = []
        async for message in subscription:
            if not message.heartbeat:
                out.append(message)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(take(), timeout)


async def test_each_bar_time_reaches_every_subscriber_once_with_its_symbols(
    hub: SubscriptionHub,
) -> None:
    everything = await hub.subscribe(STREAM)
    two = await hub.subscribe(STREAM, ["msft", "AAPL"])
    other = await hub.subscribe("alpha@challenger")
    batch = await hub.publish(STREAM, 3, "fv1", DAY, _signals())
    assert batch is not None
    [message] = await _take(everything, 1)
    assert (message.stream_sequence, message.log_sequence) == (1, batch.sequence)
    assert message.batch is not None and message.batch.bar_time == DAY
    assert [s.symbol for s in message.batch.signals] == list(SYMBOLS)
    assert message.batch.model_version == 3
    [message] = await _take(two, 1)
    assert message.batch is not None
    assert [s.symbol for s in message.batch.signals] == ["AAPL", "MSFT"]
    await hub.publish(STREAM, 3, "fv1", _day(1), _signals(("IBM",)))
    await hub.publish(STREAM, 3, "fv1", _day(2), _signals(("MSFT",)))
    [message] = await _take(two, 1)  # the IBM-only bar time is not sent to it
    assert message.stream_sequence == 2 and message.batch is not None
    assert message.batch.bar_time == _day(2)
    assert other.cursor == 0 and other._queue.empty()


async def test_a_subscriber_resuming_gets_what_it_missed_then_live_ones(
    hub: SubscriptionHub,
) -> None:
    sequences = []
    for d in range(5):
        batch = await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
        assert batch is not None
        sequences.append(batch.sequence)
    resumed = await hub.subscribe(STREAM, ["IBM"], resume_after=sequences[1])
    caught_up = await _take(resumed, 3)
    assert [m.log_sequence for m in caught_up] == sequences[2:]
    assert [m.stream_sequence for m in caught_up] == [1, 2, 3]
    live = await hub.publish(STREAM, 1, "fv1", _day(5), _signals())
    [message] = await _take(resumed, 1)
    assert live is not None and message.log_sequence == live.sequence
    assert message.stream_sequence == 4
    everything = await hub.subscribe(STREAM, resume_after=0)
    assert [m.log_sequence for m in await _take(everything, 6)] == [*sequences, live.sequence]


async def test_no_gap_and_no_duplicate_while_publishing_races_the_catch_up() -> None:
    hub = SubscriptionHub(SignalLog(duckdb.connect()), catch_up_page=3, heartbeat_s=10.0)
    for d in range(20):
        await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
    resumed = await hub.subscribe(STREAM, resume_after=4)
    assert not resumed.live
    modes: list[bool] = []

    async def publish_more() -> None:
        for d in range(20, 60):
            await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
            modes.append(resumed.live)
            await asyncio.sleep(0.01 * (d % 2))

    publisher = asyncio.create_task(publish_more())
    received = await _take(resumed, 56)
    await publisher
    assert [m.log_sequence for m in received] == list(range(5, 61))
    assert [m.stream_sequence for m in received] == list(range(1, 57))
    assert modes[-1] is True  # it turned live while batches kept coming


async def test_heartbeats_flow_while_idle(hub: SubscriptionHub) -> None:
    hub.heartbeat_s = 0.05
    subscription = await hub.subscribe(STREAM)
    await hub.publish(STREAM, 1, "fv1", DAY, _signals())
    first = await asyncio.wait_for(anext(subscription), 1)
    beats = [await asyncio.wait_for(anext(subscription), 1) for _ in range(2)]
    assert not first.heartbeat and all(b.heartbeat for b in beats)
    # Heartbeats are numbered like every message, and carry the cursor to resume from.
    assert [b.stream_sequence for b in beats] == [2, 3]
    assert all(b.log_sequence == first.log_sequence for b in beats)


async def test_a_slow_consumer_is_dropped_and_resumes_from_the_log_without_loss() -> None:
    hub = SubscriptionHub(SignalLog(duckdb.connect()), queue_size=2, heartbeat_s=10.0)
    slow = await hub.subscribe(STREAM)
    fast = await hub.subscribe(STREAM)
    await hub.publish(STREAM, 1, "fv1", _day(0), _signals())
    [seen] = await _take(slow, 1)
    for d in range(1, 6):
        await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
        await _take(fast, 1)  # keeps up
    assert hub.subscriber_count == 1
    with pytest.raises(ResourceExhausted) as caught:
        await anext(slow)
    assert caught.value.reason == "SLOW_CONSUMER"
    cursor = int(caught.value.metadata["resume_after"])
    assert cursor == seen.log_sequence
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    again = await hub.subscribe(STREAM, resume_after=cursor)
    assert [m.log_sequence for m in await _take(again, 5)] == [2, 3, 4, 5, 6]


async def test_close_ends_every_stream_and_refuses_new_ones(hub: SubscriptionHub) -> None:
    waiting = await hub.subscribe(STREAM)
    catching_up = await hub.subscribe(STREAM, resume_after=0)
    reader = asyncio.create_task(_take(waiting, 1))
    await asyncio.sleep(0.01)
    await hub.close()
    assert await asyncio.wait_for(reader, 1) == []
    with pytest.raises(StopAsyncIteration):
        await anext(catching_up)
    with pytest.raises(Unavailable):
        await hub.subscribe(STREAM)


async def test_unsubscribing_stops_delivery(hub: SubscriptionHub) -> None:
    async with await hub.subscribe(STREAM) as subscription:
        assert hub.subscriber_count == 1
    assert hub.subscriber_count == 0
    await hub.publish(STREAM, 1, "fv1", DAY, _signals())
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def test_bad_subscriptions_are_refused(hub: SubscriptionHub) -> None:
    await hub.publish(STREAM, 1, "fv1", DAY, _signals())
    with pytest.raises(OutOfRange):
        await hub.subscribe(STREAM, resume_after=2)
    with pytest.raises(InvalidArgument):
        await hub.subscribe(STREAM, resume_after=-1)
    with pytest.raises(InvalidArgument):
        await hub.subscribe("alpha/3")
    with pytest.raises(InvalidArgument):
        await hub.subscribe("alpha@prod")
    with pytest.raises(InvalidArgument):
        await hub.subscribe(STREAM, ["AAPL", " "])
    small = SubscriptionHub(hub.log, max_subscribers=1)
    await small.subscribe(STREAM)
    with pytest.raises(ResourceExhausted):
        await small.subscribe(STREAM)


async def test_published_scores_become_one_batch_per_bar_time(
    hub: SubscriptionHub, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    model = ScoringModel.from_trained(trained[0].model, "alpha", 4, FeatureViewRef("d", "fv9"))
    scores = pa.table(
        {
            "symbol": ["MSFT", "AAPL", "MSFT", "AAPL", "IBM"],
            "time": pa.array([_day(1), _day(1), _day(0), _day(0), _day(1)]),
            "score": [0.1, 0.2, 0.3, 0.4, 0.5],
        },
        schema=SCORE_SCHEMA,
    )
    subscription = await hub.subscribe(STREAM, ["AAPL", "IBM"])
    batches = await hub.publish_scores(STREAM, model, scores)
    assert [(b.bar_time, len(b.signals)) for b in batches] == [(_day(0), 2), (_day(1), 3)]
    assert all(b.model_version == 4 and b.feature_view_version == "fv9" for b in batches)
    messages = await _take(subscription, 2)
    assert [[(s.symbol, s.score) for s in m.batch.signals] for m in messages if m.batch] == [
        [("AAPL", 0.4)],
        [("AAPL", 0.2), ("IBM", 0.5)],
    ]
    assert await hub.publish_scores(STREAM, model, scores) == []  # re-scoring adds nothing


async def test_a_restarted_service_resumes_a_stream_from_its_log(tmp_path: Path) -> None:
    path = str(tmp_path / "signal.duckdb")
    connection = duckdb.connect(path)
    hub = SubscriptionHub(SignalLog(connection), heartbeat_s=10.0)
    subscription = await hub.subscribe(STREAM, ["IBM"])
    for d in range(3):
        await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
    received = await _take(subscription, 2)  # the client saw two, then the server died
    await hub.close()
    connection.close()

    connection = duckdb.connect(path)
    hub = SubscriptionHub(SignalLog(connection), heartbeat_s=10.0)
    for d in range(3, 5):
        await hub.publish(STREAM, 1, "fv1", _day(d), _signals())
    resumed = await hub.subscribe(STREAM, ["IBM"], resume_after=received[-1].log_sequence)
    rest = await _take(resumed, 3)
    seen = [m.batch.bar_time for m in [*received, *rest] if m.batch]
    assert seen == [_day(d) for d in range(5)]
    await hub.close()
    connection.close()
