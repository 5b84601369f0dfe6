"""Serving models by reference: follows alias moves without a restart, caches loaded boosters.

`ModelResolver.get("name@champion")` resolves the alias at the registry at most every
`alias_ttl_s` seconds (and at once after `invalidate`, which PromoteModel calls in-process), so
a promotion elsewhere is served within the TTL. Loaded versions are cached (least recently used
first out, `max_models`); a pinned `name/<version>` never needs the registry again once loaded.
If the registry is unreachable when an alias is due for a refresh, the last resolved version
keeps serving (a NotFound, e.g. a removed alias, is not masked).

`get` blocks on the registry when it has to; `aget` answers from the cache on the event loop and
only goes to a worker thread on a miss; `without_refresh` answers from memory only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from services.runtime.errors import Unavailable
from services.signal.domain.refs import ModelRef
from services.signal.domain.registry import ModelVersionInfo
from services.signal.domain.scoring import ScoringModel

log = logging.getLogger("quantmesh.signal")


class ModelSource(Protocol):
    """What the resolver needs from a registry (ModelRegistry is one)."""

    def resolve(self, ref: ModelRef | str) -> ModelVersionInfo: ...

    def load(self, info: ModelVersionInfo) -> ScoringModel: ...


class ModelResolver:
    """Reference → loaded ScoringModel, following aliases."""

    def __init__(
        self,
        source: ModelSource,
        *,
        alias_ttl_s: float = 5.0,
        max_models: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = alias_ttl_s
        self._max = max(1, max_models)
        self._clock = clock
        self._aliases: dict[tuple[str, str], tuple[ModelVersionInfo, float]] = {}
        self._models: OrderedDict[tuple[str, int], ScoringModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, int], threading.Lock] = {}
        self._refreshing: dict[tuple[str, str], asyncio.Task[ScoringModel]] = {}

    def get(self, ref: ModelRef | str) -> ScoringModel:
        """The model `ref` names now (blocking on the registry when the cache cannot answer)."""
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        cached = self.cached(ref)
        if cached is not None:
            return cached
        info = self._resolve(ref)
        return self._load(info)

    async def aget(self, ref: ModelRef | str) -> ScoringModel:
        """`get` for the event loop: cache hits inline, misses in a worker thread.

        An alias whose resolution is older than the TTL keeps serving its model while one
        background refresh asks the registry (stale-while-revalidate), so under load callers
        never queue behind the registry and it sees one query per TTL, not one per call.
        """
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        cached = self.cached(ref)
        if cached is not None:
            return cached
        stale = self._stale(ref)
        if stale is not None:
            key = (ref.name, ref.alias or "")
            if key not in self._refreshing:
                task = asyncio.create_task(asyncio.to_thread(self.get, ref))
                self._refreshing[key] = task
                task.add_done_callback(lambda done: self._refreshed(key, done))
            return stale
        return await asyncio.to_thread(self.get, ref)

    def without_refresh(self, ref: ModelRef) -> ScoringModel | None:
        """What `aget` would answer from memory (fresh, or an alias's last resolution however
        old), without starting a refresh; None when only the registry can answer.

        For work that must not share the CPU with a registry query (live scoring): it calls
        `aget` afterwards, which starts the refresh that is due."""
        cached = self.cached(ref)
        return cached if cached is not None else self._stale(ref)

    def _stale(self, ref: ModelRef) -> ScoringModel | None:
        """The model an alias last resolved to, however old (None when never resolved)."""
        if ref.alias is None:
            return None
        with self._lock:
            entry = self._aliases.get((ref.name, ref.alias))
            if entry is None:
                return None
            return self._models.get((ref.name, entry[0].version))

    def _refreshed(self, key: tuple[str, str], done: asyncio.Task[ScoringModel]) -> None:
        self._refreshing.pop(key, None)
        if not done.cancelled() and done.exception() is not None:
            log.warning("refreshing %s@%s failed: %s", key[0], key[1], done.exception())

    def cached(self, ref: ModelRef) -> ScoringModel | None:
        """The model from the cache when the answer is still fresh, else None (no I/O)."""
        with self._lock:
            if ref.version is not None:
                version = ref.version
            else:
                assert ref.alias is not None
                entry = self._aliases.get((ref.name, ref.alias))
                if entry is None or self._clock() >= entry[1]:
                    return None
                version = entry[0].version
            model = self._models.get((ref.name, version))
            if model is not None:
                self._models.move_to_end((ref.name, version))
            return model

    def invalidate(self, name: str | None = None) -> None:
        """Forget alias resolutions (of `name`, or all), so the next call asks the registry."""
        with self._lock:
            for key in [k for k in self._aliases if name is None or k[0] == name]:
                del self._aliases[key]

    def _resolve(self, ref: ModelRef) -> ModelVersionInfo:
        if ref.alias is None:
            return self._source.resolve(ref)
        key = (ref.name, ref.alias)
        try:
            info = self._source.resolve(ref)
        except Unavailable:
            with self._lock:
                stale = self._aliases.get(key)
            if stale is None:
                raise
            log.warning("model registry unavailable; %s stays on version %s", ref, stale[0].version)
            info = stale[0]
        with self._lock:
            previous = self._aliases.get(key)
            self._aliases[key] = (info, self._clock() + self._ttl)
        if previous is not None and previous[0].version != info.version:
            log.info("%s moved from version %s to %s", ref, previous[0].version, info.version)
        return info

    def _load(self, info: ModelVersionInfo) -> ScoringModel:
        key = (info.name, info.version)
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per version, however many callers miss at once
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = self._source.load(info)
                with self._lock:
                    self._models[key] = model
                    while len(self._models) > self._max:
                        self._models.popitem(last=False)
        with self._lock:
            self._loading.pop(key, None)
            if key in self._models:
                self._models.move_to_end(key)
        return model
