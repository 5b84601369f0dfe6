"""ModelResolver: alias TTL, on-demand refresh, caching by version, registry outages."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from services.runtime.errors import NotFound, Unavailable
from services.signal.domain.refs import FeatureViewRef, ModelRef
from services.signal.domain.registry import ModelVersionInfo
from services.signal.domain.results import TrainingResult
from services.signal.domain.scoring import ScoringModel
from services.signal.domain.serving import ModelResolver
from services.signal.domain.train_config import ModelKind

VIEW = FeatureViewRef("default", "v1")


class Registry:
    """An in-memory stand-in for ModelRegistry that counts its calls."""

    def __init__(self, trained: TrainingResult) -> None:
        self.trained = trained
        self.aliases = {"champion": 1}
        self.versions = {1, 2, 3}
        self.resolves = 0
        self.loads: list[int] = []
        self.down = False

    def _info(self, name: str, version: int) -> ModelVersionInfo:
        return ModelVersionInfo(
            name,
            version,
            f"run{version}",
            "",
            (),
            datetime.now(UTC),
            "direction_1",
            ModelKind.CLASSIFIER,
            VIEW,
            "hash",
            {},
        )

    def resolve(self, ref: ModelRef | str) -> ModelVersionInfo:
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        self.resolves += 1
        if self.down:
            raise Unavailable("registry down")
        version = ref.version if ref.version is not None else self.aliases.get(ref.alias or "")
        if version is None or version not in self.versions:
            raise NotFound(f"{ref}")
        return self._info(ref.name, version)

    def load(self, info: ModelVersionInfo) -> ScoringModel:
        self.loads.append(info.version)
        return ScoringModel.from_trained(self.trained.model, info.name, info.version, VIEW)


@pytest.fixture
def source(trained: tuple[TrainingResult, TrainingResult]) -> Registry:
    return Registry(trained[0])


def test_aliases_are_re_resolved_after_the_ttl_and_boosters_cached_by_version(
    source: Registry,
) -> None:
    now = [100.0]
    resolver = ModelResolver(source, alias_ttl_s=2.0, clock=lambda: now[0])
    assert resolver.get("m@champion").version == 1
    assert resolver.get("m@champion").version == 1
    assert (source.resolves, source.loads) == (1, [1])
    source.aliases["champion"] = 2
    now[0] += 1.9
    assert resolver.get("m@champion").version == 1
    now[0] += 0.1
    assert resolver.get("m@champion").version == 2
    source.aliases["champion"] = 1
    resolver.invalidate()
    assert resolver.get("m@champion").version == 1
    assert source.loads == [1, 2]  # version 1 was not loaded twice


def test_pinned_versions_never_go_back_to_the_registry(source: Registry) -> None:
    resolver = ModelResolver(source)
    for _ in range(3):
        assert resolver.get("m/3").version == 3
    assert (source.resolves, source.loads) == (1, [3])


def test_a_registry_outage_keeps_the_last_version_but_not_found_is_reported(
    source: Registry,
) -> None:
    now = [0.0]
    resolver = ModelResolver(source, alias_ttl_s=1.0, clock=lambda: now[0])
    resolver.get("m@champion")
    source.down = True
    now[0] += 5
    assert resolver.get("m@champion").version == 1
    with pytest.raises(Unavailable):
        resolver.get("m@challenger")  # never resolved: nothing to fall back on
    source.down = False
    del source.aliases["champion"]
    now[0] += 5
    with pytest.raises(NotFound):
        resolver.get("m@champion")


def test_the_cache_keeps_the_most_recently_used_versions(source: Registry) -> None:
    resolver = ModelResolver(source, max_models=2)
    resolver.get("m/1")
    resolver.get("m/2")
    resolver.get("m/1")
    resolver.get("m/3")  # evicts 2, the least recently used
    resolver.get("m/1")
    resolver.get("m/2")
    assert source.loads == [1, 2, 3, 2]


def test_concurrent_misses_load_a_version_once(source: Registry) -> None:
    gate = threading.Event()
    real_load = source.load

    def slow_load(info: ModelVersionInfo) -> ScoringModel:
        gate.wait(1.0)
        return real_load(info)

    source.load = slow_load  # type: ignore[method-assign]
    resolver = ModelResolver(source)
    results: list[ScoringModel] = []
    threads = [
        threading.Thread(target=lambda: results.append(resolver.get("m/2"))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert source.loads == [2] and len({id(r) for r in results}) == 1


async def test_aget_answers_cache_hits_on_the_loop(source: Registry) -> None:
    resolver = ModelResolver(source)
    first = await resolver.aget("m@champion")
    calls = source.resolves
    again = await asyncio.gather(*(resolver.aget("m@champion") for _ in range(50)))
    assert all(m is first for m in again) and source.resolves == calls
    assert resolver.cached(ModelRef("m", alias="challenger")) is None
    assert first.feature_view == VIEW


async def test_without_refresh_answers_from_memory_and_leaves_the_refresh_to_aget(
    source: Registry,
) -> None:
    now = [100.0]
    resolver = ModelResolver(source, alias_ttl_s=2.0, clock=lambda: now[0])
    ref = ModelRef("m", alias="champion")
    assert resolver.without_refresh(ref) is None  # never resolved: only the registry knows
    first = await resolver.aget(ref)
    assert resolver.without_refresh(ref) is first
    source.aliases["champion"] = 2
    now[0] += 5.0  # the alias is due for a refresh
    assert resolver.without_refresh(ref) is first
    await asyncio.sleep(0.05)
    assert source.resolves == 1 and not resolver._refreshing  # nothing started
    assert await resolver.aget(ref) is first  # stale while the refresh runs
    for _ in range(100):
        if resolver.cached(ref) is not None:
            break
        await asyncio.sleep(0.01)
    assert source.resolves == 2 and resolver.without_refresh(ref).version == 2  # type: ignore[union-attr]
