"""The regime cache in MongoDB (motor), and how it degrades when MongoDB does.

Collection `regime_cache`, one document per answer:

    {_id: "SYMBOL|YYYY-MM-DD|name/version|feature_version", symbol, day, bar_time, model,
     feature_version, regime, p: [4 floats], computed_as_of_us, expires_at}

`day` is the requested calendar day; `bar_time` the daily bar that answered it (the latest at
or before that day). Expiry is a query condition (`expires_at > now`); the TTL index on
`expires_at` is only housekeeping. Revisions are checked by the caller against
`computed_as_of`.

In front of MongoDB sits a bounded in-process layer (LRU, same keys, same expiry): hot answers
cost no round trip, while MongoDB keeps them across restarts and shares them between replicas.
Every answer from either layer passes the same revision check.

MongoDB down or slow: every operation has a deadline; a failure marks the cache DEGRADED, and
for `retry_s` lookups and writes skip MongoDB (answers are computed). After that the next
operation, or `probe()`, tries again, and the first success makes it HEALTHY. Nothing needs a
restart: motor reconnects on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import numpy as np

from services.runtime.time_convert import ensure_utc

log = logging.getLogger(__name__)

COLLECTION = "regime_cache"
_WRITE_CHUNK = 1000


class CacheState(Enum):
    HEALTHY = 1
    DEGRADED = 2
    DISABLED = 3


@dataclass(frozen=True, slots=True)
class CachedRegime:
    symbol: str
    day: str  # YYYY-MM-DD requested
    bar_time: datetime
    model: str  # "name/version"
    feature_version: str
    regime: int
    probabilities: tuple[float, ...]
    computed_as_of: datetime | None

    @property
    def key(self) -> str:
        return cache_key(self.symbol, self.day, self.model, self.feature_version)


def cache_key(symbol: str, day: str, model: str, feature_version: str) -> str:
    return f"{symbol}|{day}|{model}|{feature_version}"


@dataclass(frozen=True)
class CacheStats:
    hits: int
    memory_hits: int
    misses: int
    invalidated: int
    errors: int
    writes: int
    hit_p50_ms: float
    hit_p99_ms: float
    miss_p50_ms: float
    miss_p99_ms: float
    state: CacheState
    degraded_since: datetime | None
    last_error: str

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def _percentile(values: deque[float], q: float) -> float:
    return float(np.percentile(np.fromiter(values, float), q)) if values else 0.0


class RegimeCache:
    """Lookups and writes of cached regimes; `collection` None disables the cache."""

    def __init__(
        self,
        collection: Any | None,
        *,
        ttl_s: float = 7 * 86400.0,
        timeout_s: float = 0.25,
        retry_s: float = 2.0,
        latency_window: int = 10_000,
        memory_entries: int = 200_000,
    ) -> None:
        self._collection = collection
        self.memory_entries = memory_entries
        self._memory: OrderedDict[str, tuple[CachedRegime, float]] = OrderedDict()
        self.memory_hits = 0
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.hits = self.misses = self.invalidated = self.errors = self.writes = 0
        self._hit_ms: deque[float] = deque(maxlen=latency_window)
        self._miss_ms: deque[float] = deque(maxlen=latency_window)
        self._degraded_since: datetime | None = None
        self._retry_at = 0.0
        self._last_error = ""
        self._writers: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._collection is not None

    @property
    def state(self) -> CacheState:
        if self._collection is None:
            return CacheState.DISABLED
        return CacheState.DEGRADED if self._degraded_since else CacheState.HEALTHY

    def _usable(self) -> bool:
        return self._collection is not None and time.monotonic() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        if self._degraded_since is None:
            self._degraded_since = datetime.now(UTC)
            log.warning("regime cache degraded: %s", self._last_error)
        self._retry_at = time.monotonic() + self.retry_s

    def _succeeded(self) -> None:
        if self._degraded_since is not None:
            log.info("regime cache healthy again")
        self._degraded_since = None

    async def _run(self, operation: Any) -> Any:
        return await asyncio.wait_for(operation, self.timeout_s)

    async def ensure_indexes(self) -> None:
        """Create the indexes; a failure only degrades the cache."""
        if self._collection is None:
            return
        try:
            await self._run(self._collection.create_index("expires_at", expireAfterSeconds=0))
            await self._run(self._collection.create_index([("symbol", 1), ("model", 1)]))
            self._succeeded()
        except Exception as exc:
            self._failed(exc)

    def _remember(self, entry: CachedRegime, expires_at: float) -> None:
        if self.memory_entries <= 0:
            return
        self._memory[entry.key] = (entry, expires_at)
        self._memory.move_to_end(entry.key)
        while len(self._memory) > self.memory_entries:
            self._memory.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop a stale entry from the in-process layer (MongoDB's copy is overwritten later)."""
        self._memory.pop(key, None)

    async def get(self, key: str) -> CachedRegime | None:
        """The entry under `key` unless absent, expired or the cache is unusable."""
        if self._collection is None:
            return None
        remembered = self._memory.get(key)
        if remembered is not None:
            if remembered[1] > time.monotonic():
                self._memory.move_to_end(key)
                self.memory_hits += 1
                return remembered[0]
            del self._memory[key]
        if not self._usable():
            return None
        try:
            doc = await self._run(
                self._collection.find_one({"_id": key, "expires_at": {"$gt": datetime.now(UTC)}})
            )
        except Exception as exc:
            self._failed(exc)
            return None
        self._succeeded()
        if doc is None:
            return None
        entry = _from_doc(doc)
        left = (ensure_utc(doc["expires_at"]) - datetime.now(UTC)).total_seconds()
        self._remember(entry, time.monotonic() + left)
        return entry

    def record_hit(self, elapsed_s: float) -> None:
        self.hits += 1
        self._hit_ms.append(elapsed_s * 1000)

    def record_miss(self, elapsed_s: float, *, invalidated: bool = False) -> None:
        self.misses += 1
        self.invalidated += invalidated
        self._miss_ms.append(elapsed_s * 1000)

    async def put_many(self, entries: Sequence[CachedRegime]) -> None:
        """Upsert `entries`; failures degrade the cache and drop the rest of the write."""
        if self._collection is not None:
            expires_at = time.monotonic() + self.ttl_s
            for entry in entries:
                self._remember(entry, expires_at)
        if not entries or not self._usable():
            return
        from pymongo import ReplaceOne

        assert self._collection is not None
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        for begin in range(0, len(entries), _WRITE_CHUNK):
            chunk = entries[begin : begin + _WRITE_CHUNK]
            ops = [ReplaceOne({"_id": e.key}, _to_doc(e, expires), upsert=True) for e in chunk]
            try:
                # Bulk writes get a longer deadline than lookups: they run in the background.
                await asyncio.wait_for(
                    self._collection.bulk_write(ops, ordered=False), self.timeout_s * 40
                )
            except Exception as exc:
                self._failed(exc)
                return
            self._succeeded()
            self.writes += len(chunk)

    def put_later(self, entries: Sequence[CachedRegime]) -> None:
        """Write in the background: an answer never waits for its cache fill."""
        if not entries or self._collection is None:
            return
        task = asyncio.create_task(self.put_many(entries))
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)

    async def drain(self) -> None:
        """Wait for background writes (tests, shutdown)."""
        while self._writers:
            await asyncio.gather(*list(self._writers), return_exceptions=True)

    async def probe(self) -> bool:
        """Ping MongoDB when degraded; True when the cache is (again) healthy."""
        if self._collection is None:
            return False
        if self._degraded_since is None:
            return True
        try:
            await self._run(self._collection.database.command("ping"))
        except Exception as exc:
            self._failed(exc)
            return False
        self._succeeded()
        self._retry_at = 0.0
        return True

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            memory_hits=self.memory_hits,
            misses=self.misses,
            invalidated=self.invalidated,
            errors=self.errors,
            writes=self.writes,
            hit_p50_ms=_percentile(self._hit_ms, 50),
            hit_p99_ms=_percentile(self._hit_ms, 99),
            miss_p50_ms=_percentile(self._miss_ms, 50),
            miss_p99_ms=_percentile(self._miss_ms, 99),
            state=self.state,
            degraded_since=self._degraded_since,
            last_error=self._last_error,
        )

    async def close(self) -> None:
        for task in list(self._writers):
            task.cancel()
        await asyncio.gather(*list(self._writers), return_exceptions=True)


def _to_doc(entry: CachedRegime, expires: datetime) -> dict[str, Any]:
    return {
        "_id": entry.key,
        "symbol": entry.symbol,
        "day": entry.day,
        "bar_time": entry.bar_time,
        "model": entry.model,
        "feature_version": entry.feature_version,
        "regime": entry.regime,
        "p": list(entry.probabilities),
        # Microseconds as an integer: BSON dates keep milliseconds, and a truncated watermark
        # would make every entry look older than the batch it was computed from.
        "computed_as_of_us": _micros(entry.computed_as_of),
        "expires_at": expires,
    }


def _micros(t: datetime | None) -> int | None:
    if t is None:
        return None
    delta = t.astimezone(UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=int(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_doc(doc: dict[str, Any]) -> CachedRegime:
    return CachedRegime(
        symbol=doc["symbol"],
        day=doc["day"],
        bar_time=ensure_utc(doc["bar_time"]),
        model=doc["model"],
        feature_version=doc["feature_version"],
        regime=int(doc["regime"]),
        probabilities=tuple(float(p) for p in doc["p"]),
        computed_as_of=_from_micros(doc.get("computed_as_of_us")),
    )
