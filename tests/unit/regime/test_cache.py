"""RegimeCache on a real MongoDB: the in-process layer in front, expiry, and degraded mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.regime.domain.cache import CachedRegime, CacheState, RegimeCache
from services.runtime.mongo import MongoServer
from tests.mongo_server import mongo, mongo_db  # noqa: F401


def entry(day: int) -> CachedRegime:
    return CachedRegime(
        symbol="DJI",
        day=f"2013-06-{day:02d}",
        bar_time=datetime(2013, 6, day, tzinfo=UTC),
        model="market/1",
        feature_version="rf1-test",
        regime=1,
        probabilities=(0.9, 0.05, 0.03, 0.02),
        computed_as_of=datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )


async def test_entries_round_trip_through_mongodb_to_the_microsecond(mongo_db: Any) -> None:  # noqa: F811
    cache = RegimeCache(mongo_db["regime_cache"], memory_entries=0)
    await cache.ensure_indexes()
    await cache.put_many([entry(3), entry(4)])
    assert cache.writes == 2
    found = await cache.get(entry(3).key)
    assert found == entry(3)
    assert await cache.get("DJI|2013-06-05|market/1|rf1-test") is None
    assert cache.memory_hits == 0


async def test_the_memory_layer_answers_hot_keys_and_stays_bounded(mongo_db: Any) -> None:  # noqa: F811
    cache = RegimeCache(mongo_db["regime_cache"], memory_entries=2)
    await cache.put_many([entry(3), entry(4), entry(5)])
    assert await cache.get(entry(5).key) == entry(5)
    assert cache.memory_hits == 1
    assert await cache.get(entry(3).key) == entry(3)  # evicted from memory, found in MongoDB
    assert cache.memory_hits == 1
    cache.forget(entry(3).key)
    assert await cache.get(entry(3).key) == entry(3)


async def test_expired_entries_are_not_served(mongo_db: Any) -> None:  # noqa: F811
    cache = RegimeCache(mongo_db["regime_cache"], ttl_s=-1.0)
    await cache.put_many([entry(3)])
    assert await cache.get(entry(3).key) is None


async def test_a_stopped_server_degrades_the_cache_and_a_probe_heals_it(
    mongo: MongoServer,  # noqa: F811
    mongo_db: Any,  # noqa: F811
) -> None:
    cache = RegimeCache(mongo_db["regime_cache"], timeout_s=0.5, retry_s=60.0, memory_entries=0)
    await cache.put_many([entry(3)])
    mongo.stop()
    try:
        assert await cache.get(entry(3).key) is None
        assert cache.state is CacheState.DEGRADED and cache.errors == 1
        assert await cache.get(entry(3).key) is None  # skipped, not retried, until retry_s
        assert cache.errors == 1
    finally:
        mongo.start()
    for _ in range(50):
        if await cache.probe():
            break
    assert cache.state is CacheState.HEALTHY
    assert await cache.get(entry(3).key) == entry(3)
