"""Small markets for the backtest service's domain: seeded random walks with an ingest time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from backtest import Operator, Rule, RuleGroup, Rules, sma_crossover
from backtest.config import StrategyConfig
from services.backtest.domain.memory import MemorySources
from services.backtest.domain.service import Backtests
from services.backtest.domain.store import BacktestStore
from services.regime.domain.regimes import Regime
from tests.unit.backtest.helpers import random_bars

SYMBOLS = ("AAA", "BBB", "CCC")
DAYS = 300
INGESTED = datetime(2024, 12, 1, 8, 30, tzinfo=UTC)


def market() -> pa.Table:
    bars = random_bars(SYMBOLS, DAYS, seed=5)
    stamps = pa.array([INGESTED] * bars.num_rows, pa.timestamp("us", tz="UTC"))
    return bars.append_column("ingested_at", stamps)


BARS = market()


def sma(**changes: Any) -> StrategyConfig:
    return sma_crossover(SYMBOLS, 5, 20, **changes)


def regime_filtered() -> StrategyConfig:
    """SMA crossover entries only while AAA's regime is calm (a market filter)."""
    base = sma()
    rules = Rules(
        long_entry=RuleGroup.of(
            Rule.sma_cross(5, 20, Operator.GT),
            Rule.regime_in("calm_uptrend", symbol="aaa"),
        ),
    )
    return StrategyConfig(
        universe=base.universe,
        rules=rules,
        name="sma_regime",
        sizing=base.sizing,
        regime_model="market@champion",
    )


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect(str(tmp_path / "backtest.duckdb"))
    yield db
    db.close()


@pytest.fixture
def store(connection: duckdb.DuckDBPyConnection) -> BacktestStore:
    return BacktestStore(connection)


@pytest.fixture
def sources() -> MemorySources:
    return MemorySources(BARS)


@pytest.fixture
def backtests(store: BacktestStore, sources: MemorySources) -> Backtests:
    return Backtests(store, sources, max_universe=10, regime_labels=[r.name for r in Regime])
