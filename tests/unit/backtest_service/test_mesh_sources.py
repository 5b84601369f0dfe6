"""The mesh-backed sources with the typed clients replaced: bulk reads, chunked scoring pinned to
one model version, the symbols each source asks for, and the provenance they record."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pytest
import pytest_asyncio
from quantmesh.signal.v1 import signal_pb2

from backtest import Operator, Rule, RuleGroup, Rules, Sources
from backtest.config import Frequency, StrategyConfig
from backtest.loading import fetch_inputs
from backtest.memory_sources import select
from services.backtest.domain.records import ModelUsed
from services.backtest.mesh_sources import MeshRun, RegimeHistoryClient, ScoringClient
from services.runtime.model_refs import ModelRef
from services.runtime.settings import RuntimeSettings, load
from services.runtime.time_convert import to_time_range
from tests.unit.backtest.helpers import START, values
from tests.unit.backtest_service.conftest import BARS, DAYS, INGESTED, SYMBOLS


class FakeMarketData:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def get_bars(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        self.calls.append(tuple(symbols))
        return select(BARS, symbols, start, end)


class FakeMesh:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.settings = load(RuntimeSettings, environ={})
        self.marketdata = FakeMarketData()
        self._channel = channel

    def channel(self, service: str) -> grpc.aio.Channel:
        return self._channel


@pytest_asyncio.fixture
async def mesh() -> AsyncIterator[FakeMesh]:
    channel = grpc.aio.insecure_channel("127.0.0.1:9")  # never dialled: the calls are faked
    yield FakeMesh(channel)
    await channel.close()


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    trained = to_time_range(datetime(2020, 1, 1, tzinfo=UTC), START.replace(month=6))

    async def score_rows(
        self: ScoringClient, model: ModelRef, rows: pa.Table, *, timeout: float | None = None
    ) -> tuple[ModelUsed, pa.Table]:
        calls.append((str(model), rows.num_rows))
        scores = pa.array(np.linspace(-1, 1, rows.num_rows))
        return ModelUsed("alpha", 4, "fv-4"), rows.append_column("score", scores)

    async def list_models(self: ScoringClient, *args: Any, **kwargs: Any) -> Any:
        info = signal_pb2.ModelInfo(name="alpha", version=4, training_window=trained)
        return signal_pb2.ListModelsResponse(models=[info])

    monkeypatch.setattr(ScoringClient, "score_rows", score_rows)
    monkeypatch.setattr(ScoringClient, "list_models", list_models)
    return calls


def signal_config(**changes: Any) -> StrategyConfig:
    config = StrategyConfig(
        universe=SYMBOLS[:2],
        rules=Rules(long_entry=RuleGroup.of(Rule.signal(Operator.GT, 0.2))),
        signal_model="alpha@champion",
        benchmark=SYMBOLS[2],
    )
    return dataclasses.replace(config, **changes)


async def test_scores_come_in_chunks_of_the_bars_read_once_pinned_to_one_version(
    mesh: FakeMesh, scored: list[tuple[str, int]]
) -> None:
    run = MeshRun(mesh, signal_config(), max_score_rows=250, timeout_s=5)  # type: ignore[arg-type]
    inputs = await fetch_inputs(signal_config(), Sources(run, run, run, run))
    assert mesh.marketdata.calls == [SYMBOLS]  # one read, shared with the signal source
    assert inputs.bars.num_rows == 3 * DAYS
    assert [n for _, n in scored] == [250, 250, 100]  # the universe only, not the benchmark
    assert [m for m, _ in scored] == ["alpha@champion", "alpha/4", "alpha/4"]
    assert inputs.signals is not None and inputs.signals.num_rows == 2 * DAYS
    provenance = run.provenance()
    assert provenance.signal_model == ModelUsed("alpha", 4, "fv-4")
    assert provenance.data_watermark == INGESTED
    (warning,) = provenance.warnings
    assert "alpha version 4" in warning and "in sample" in warning


async def test_no_warning_when_the_backtest_starts_after_the_training_window(
    mesh: FakeMesh, scored: list[tuple[str, int]]
) -> None:
    config = signal_config(start=START.replace(month=7))
    run = MeshRun(mesh, config, max_score_rows=10_000, timeout_s=5)  # type: ignore[arg-type]
    await fetch_inputs(config, Sources(run, run, run, run))
    assert len(scored) == 1 and run.provenance().warnings == ()


async def test_a_market_filter_reads_the_regime_of_its_symbol_only(
    mesh: FakeMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[tuple[str, ...], str]] = []
    labels = values({SYMBOLS[2]: ["CALM_UPTREND"] * DAYS}, "regime")

    async def history_with_model(
        self: RegimeHistoryClient, symbols: Sequence[str], *args: Any, **kwargs: Any
    ) -> tuple[ModelUsed, pa.Table]:
        asked.append((tuple(symbols), str(args[2])))
        return ModelUsed("market", 2, "regime-v1"), labels.append_column(
            "p_calm_uptrend", pa.array([1.0] * DAYS)
        )

    monkeypatch.setattr(RegimeHistoryClient, "history_with_model", history_with_model)
    config = StrategyConfig(
        universe=SYMBOLS[:2],
        rules=Rules(
            long_entry=RuleGroup.of(Rule.regime_in("CALM_UPTREND", symbol=SYMBOLS[2])),
        ),
        regime_model="market@champion",
    )
    run = MeshRun(mesh, config, max_score_rows=10, timeout_s=5)  # type: ignore[arg-type]
    inputs = await fetch_inputs(config, Sources(run, run, run, run))
    assert asked == [((SYMBOLS[2],), "market@champion")]
    assert inputs.regimes is not None
    assert inputs.regimes.column_names == ["symbol", "time", "regime"]
    assert run.provenance().regime_model == ModelUsed("market", 2, "regime-v1")
    assert mesh.marketdata.calls == [SYMBOLS]
