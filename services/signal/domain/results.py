"""What a training run produces: the fitted model, its validation and its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lightgbm as lgb
import pyarrow as pa

from services.signal.domain.metrics import Metrics
from services.signal.domain.train_config import ModelKind, TrainConfig


@dataclass(frozen=True)
class TrainingWindow:
    """First and last bar time of the rows the model was trained and validated on."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class RowCounts:
    features: int  # rows of the feature table
    labels: int  # rows of the label table
    joined: int  # rows with both
    missing_label: int  # joined rows dropped for a missing label or forward return
    used: int  # rows trained on


@dataclass(frozen=True)
class FoldReport:
    """One fold: its date ranges, row counts, boosting rounds and out-of-sample metrics."""

    index: int
    train_start: datetime
    train_end: datetime
    validation_start: datetime
    validation_end: datetime
    fit_rows: int
    early_stopping_rows: int
    validation_rows: int
    purged_dates: int
    embargoed_dates: int
    best_iteration: int
    metrics: Metrics


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted booster and what it needs to be scored: feature names in order, label, kind."""

    booster: lgb.Booster
    feature_names: tuple[str, ...]
    label: str
    kind: ModelKind
    params: dict[str, Any]
    num_rounds: int

    def model_string(self) -> str:
        """The booster in LightGBM's native text format."""
        text: str = self.booster.model_to_string(num_iteration=-1)
        return text


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """Everything a training run produced: model, validation, provenance."""

    model: TrainedModel
    config: TrainConfig
    folds: tuple[FoldReport, ...]
    overall: Metrics
    warnings: tuple[str, ...]
    window: TrainingWindow
    data_hash: str
    rows: RowCounts
    dates: int
    feature_importance: dict[str, float]  # total gain of the final model per feature
    oos_scores: pa.Table  # symbol, time, fold, score, label, forward return: every OOS prediction

    def metrics_dict(self) -> dict[str, float]:
        """Flat metrics: `oos_<name>` overall and `fold<k>_<name>` per fold."""
        out = {f"oos_{k}": v for k, v in self.overall.as_dict().items()}
        for fold in self.folds:
            out.update({f"fold{fold.index}_{k}": v for k, v in fold.metrics.as_dict().items()})
        return out
