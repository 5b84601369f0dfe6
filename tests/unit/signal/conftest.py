"""Fixtures of the signal tests: dow30 and synthetic feature/label tables, a real MongoDB."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from services.marketdata.domain.synthetic import generate_market
from services.signal.domain.registry import ModelRegistry
from services.signal.domain.results import TrainingResult
from services.signal.domain.train_config import TrainConfig
from services.signal.domain.training import train_model
from tests.conftest import require_shared_data
from tests.mongo_server import mongo, mongo_db  # noqa: F401
from tests.unit.signal.data import features_and_labels, load_bars


@pytest.fixture(scope="session")
def dow30() -> tuple[pa.Table, pa.Table]:
    """(features, labels) of the 29 Dow stocks, 2008-11 to 2018-11."""
    return features_and_labels(load_bars(require_shared_data() / "daily" / "dow30"))


@pytest.fixture(scope="session")
def synthetic() -> tuple[pa.Table, pa.Table]:
    """(features, labels) of a small seeded synthetic market: 12 symbols × 400 sessions."""
    return features_and_labels(generate_market(n_symbols=12, n_days=400, seed=11).bars)


@pytest.fixture(scope="session")
def trained(synthetic: tuple[pa.Table, pa.Table]) -> tuple[TrainingResult, TrainingResult]:
    """Two different small models on the synthetic market: a classifier and a regressor."""
    features, labels = synthetic
    config = TrainConfig(label="direction_1", n_folds=3, max_rounds=60, num_threads=1)
    return (
        train_model(features, labels, config),
        train_model(features, labels, replace(config, label="fwd_ret_5", seed=3)),
    )


@pytest.fixture(scope="session")
def mlflow_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its schema migrated once (copied into each test)."""
    root = tmp_path_factory.mktemp("mlflow-schema")
    assert ModelRegistry.local(root).list_models() == []
    return root / "mlflow.db"


@pytest.fixture
def registry(tmp_path: Path, mlflow_schema: Path) -> ModelRegistry:
    """An MLflow registry on a temporary SQLite store of its own."""
    root = tmp_path / "mlflow"
    root.mkdir()
    shutil.copyfile(mlflow_schema, root / "mlflow.db")
    return ModelRegistry.local(root)
