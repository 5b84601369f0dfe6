"""A `SourceProvider` over tables held in memory (tests, notebooks, an offline service)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.compute as pc

from backtest.config import Frequency, StrategyConfig
from backtest.memory_sources import (
    Data,
    MemoryBars,
    MemoryFeatures,
    MemoryRegimes,
    MemorySignals,
    as_table,
)
from backtest.sources import Sources
from services.backtest.domain.ports import RunSources
from services.backtest.domain.records import ModelUsed, Provenance
from services.runtime.model_refs import ModelRef


def model_used(model: str, versions: Mapping[str, ModelUsed]) -> ModelUsed:
    """The version recorded for `model`: from `versions`, else its pinned version (0 for an
    alias nobody resolved)."""
    if model in versions:
        return versions[model]
    ref = ModelRef.parse(model)
    return ModelUsed(ref.name, ref.version or 0)


class MemorySources:
    """Bars (optionally with `ingested_at`, giving the data watermark), signal scores, regime
    labels and features as tables; `versions` names the model version each model string
    stands for."""

    def __init__(
        self,
        bars: Data,
        *,
        signals: Data | Mapping[str, Data] | None = None,
        regimes: Data | Mapping[str, Data] | None = None,
        features: Data | None = None,
        versions: Mapping[str, ModelUsed] | None = None,
        feature_version: str = "memory",
    ) -> None:
        self.bars = as_table(bars)
        self.signals = signals
        self.regimes = regimes
        self.features = features
        self.versions = dict(versions or {})
        self.feature_version = feature_version
        self.runs: list[RunSources] = []

    async def missing_symbols(self, symbols: Sequence[str], frequency: Frequency) -> set[str]:
        known = set(pc.unique(self.bars.column("symbol")).to_pylist())
        return {s for s in symbols if s not in known}

    def for_run(self, config: StrategyConfig) -> RunSources:
        bars = MemoryBars(self.bars)
        signals = None if self.signals is None else MemorySignals(self.signals)
        regimes = None if self.regimes is None else MemoryRegimes(self.regimes)
        features = None if self.features is None else MemoryFeatures(self.features)

        def provenance() -> Provenance:
            watermark = None
            if "ingested_at" in self.bars.column_names and self.bars.num_rows:
                watermark = pc.max(self.bars.column("ingested_at")).as_py()
            signal = regime = None
            if signals is not None and signals.calls:
                signal = model_used(signals.calls[0][0], self.versions)
            if regimes is not None and regimes.calls:
                regime = model_used(regimes.calls[0][0], self.versions)
            view = version = ""
            if features is not None and features.calls:
                view, version = features.calls[0][0], config.feature_version or self.feature_version
            return Provenance(watermark, signal, regime, view, version)

        run = RunSources(Sources(bars, signals, regimes, features), provenance)
        self.runs.append(run)
        return run
