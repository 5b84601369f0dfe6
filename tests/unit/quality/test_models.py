"""Learned models: Isolation Forests and Prophet forecasts, fitted off the loop and cached."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.config import (
    FeatureSpace,
    IsolationConfig,
    IsolationMode,
    ModelConfig,
    ProphetConfig,
)
from services.quality.domain.evaluation import batch_features
from services.quality.domain.findings import Check, Severity
from services.quality.domain.isolation import POOLED_KEY
from services.quality.domain.model_checks import isolation_scores
from services.quality.domain.models import ModelCache, ModelKind
from services.quality.domain.prophet_model import Target
from services.quality.domain.sentinel import Sentinel, SentinelConfig
from services.quality.domain.training import ModelTrainer
from tests.unit.quality.helpers import edit, market, row, split_last, times

NO_PROPHET = ModelConfig(prophet=ProphetConfig(enabled=False))
# Prophet 1.5 itself calls a pandas API that pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    return market(symbols=6, days=300, seed=21)


def config(models: ModelConfig) -> SentinelConfig:
    return SentinelConfig(models=models)


@pytest.mark.parametrize(
    ("isolation", "keys"),
    [
        (IsolationConfig(), {POOLED_KEY}),
        (IsolationConfig(mode=IsolationMode.PER_SYMBOL), {f"SYN00{i}" for i in range(1, 7)}),
        (
            IsolationConfig(mode=IsolationMode.PER_SYMBOL, features=FeatureSpace.RAW),
            {f"SYN00{i}" for i in range(1, 7)},
        ),
    ],
)
async def test_isolation_forests_fit_per_symbol_or_pooled_and_score_a_spike(
    bars: pa.Table, isolation: IsolationConfig, keys: set[str]
) -> None:
    models = ModelConfig(isolation=isolation, prophet=ProphetConfig(enabled=False))
    sentinel = Sentinel(config=config(models))
    history, batch = split_last(bars)
    fitted = await sentinel.fit_models(history)
    assert len(fitted.fitted) == 6
    assert {i.key for i in sentinel.models.infos() if i.kind is ModelKind.ISOLATION} == keys
    day = int(times(bars)[-1])
    bar = row(batch, "SYN002", day)
    spiked = edit(
        batch, "SYN002", day, **{k: bar[k] * 1.3 for k in ("open", "high", "low", "close")}
    )
    report = sentinel.check_batch(spiked, history)
    assert report.models.isolation_rows == 6
    panel, raw, norm = batch_features(spiked, history)
    scores, _ = isolation_scores(panel, raw, norm, sentinel.models, Frequency.DAILY, models)
    spiked_row = int(np.flatnonzero(panel.symbol_of(norm.index) == "SYN002")[0])
    assert int(np.nanargmax(scores)) == spiked_row  # the spike is the most isolated bar
    for found in (f for f in report.findings if f.check is Check.ISOLATION_FOREST):
        assert found.severity <= Severity.MEDIUM  # a learned score alone never pages
        assert "most unusual" in found.reasons[0]
    await sentinel.aclose()


async def test_prophet_forecasts_are_precomputed_and_looked_up(bars: pa.Table) -> None:
    models = ModelConfig(
        isolation=IsolationConfig(enabled=False), prophet=ProphetConfig(horizon_sessions=5)
    )
    sentinel = Sentinel(config=config(models))
    history, batch = split_last(bars)
    two = pa.compute.is_in(history.column("symbol"), value_set=pa.array(["SYN001", "SYN002"]))
    await sentinel.fit_models(history.filter(two))
    forecast = sentinel.models.forecast(Frequency.DAILY, Target.VOLUME, "SYN002")
    assert forecast is not None and len(forecast.days) == 5
    assert forecast.data_end_us == int(times(history)[-1])
    day = int(times(bars)[-1])
    assert forecast.covers(day // 86_400_000_000)
    bar = row(batch, "SYN002", day)
    burst = edit(batch, "SYN002", day, volume=bar["volume"] * 30)
    report = sentinel.check_batch(burst, history)
    assert report.models.prophet_rows == 2
    assert set(report.models.without_forecast) == {"SYN003", "SYN004", "SYN005", "SYN006"}
    residual = [f for f in report.findings if f.check is Check.PROPHET_VOLUME]
    assert [f.symbol for f in residual] == ["SYN002"]
    assert "residual z +" in residual[0].reasons[0]
    await sentinel.aclose()


def test_the_cache_knows_which_symbols_are_due() -> None:
    cache = ModelCache()
    now = datetime(2024, 1, 10, tzinfo=UTC)
    models = ModelConfig(max_age=timedelta(hours=12))
    assert cache.due(["A", "B"], Frequency.DAILY, models, now) == ["A", "B"]
    assert cache.due(["A"], Frequency.DAILY, NO_PROPHET, now) == [
        "A"
    ]  # the pooled forest is missing


async def test_fitting_never_blocks_the_event_loop(bars: pa.Table) -> None:
    history, _ = split_last(bars)
    trainer = ModelTrainer(ModelCache(), ModelConfig(prophet=ProphetConfig(horizon_sessions=3)))
    two = pa.compute.is_in(history.column("symbol"), value_set=pa.array(["SYN001", "SYN004"]))
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    began = time.perf_counter()
    report = await trainer.fit(history.filter(two), Frequency.DAILY)
    took = time.perf_counter() - began
    ticking.cancel()
    assert report.fitted == ["SYN001", "SYN004"]
    assert took > 0.2 and max(gaps) < 0.25, (took, max(gaps))
    kinds = {(i.kind, i.key) for i in trainer.cache.infos()}
    assert (ModelKind.PROPHET_CLOSE, "SYN004") in kinds and (
        ModelKind.ISOLATION,
        POOLED_KEY,
    ) in kinds
    await trainer.aclose()


async def test_fits_run_in_a_process_pool_made_up_front(bars: pa.Table) -> None:
    history, _ = split_last(bars)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    trainer = ModelTrainer(ModelCache(), NO_PROPHET, executor=pool)
    try:
        report = await trainer.fit(history, Frequency.DAILY)
    finally:
        await trainer.aclose()
        pool.shutdown()
    assert len(report.fitted) == 6
    model = trainer.cache.isolation(Frequency.DAILY, POOLED_KEY)
    assert model is not None and model.rows > 1000
    assert np.isfinite(model.anomaly(np.zeros((1, 4))))[0]
