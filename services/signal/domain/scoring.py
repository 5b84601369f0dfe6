"""Scoring feature rows with a registered model, and explaining single predictions.

The score of a classifier (direction label) is the probability of an up move; of a regressor
(return label) the forecast forward log return. `explain` gives LightGBM's SHAP values
(`pred_contrib`): per feature, its additive contribution to the *raw* score (log-odds for a
classifier, the return for a regressor), plus the bias (expected raw score), so that
`bias + sum(contributions) == raw_score` and, for a classifier, `score == sigmoid(raw_score)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa

from services.runtime.errors import FieldViolation, InvalidArgument
from services.signal.domain.frames import (
    KEY_COLUMNS,
    TIME_TYPE,
    check_numeric,
    matrix,
    normalize_keys,
)
from services.signal.domain.refs import FeatureViewRef
from services.signal.domain.results import TrainedModel
from services.signal.domain.row_predictor import RowPredictor
from services.signal.domain.train_config import ModelKind

SCORE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)
EXPLANATION_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("feature", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=True),
        pa.field("contribution", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class RowExplanation:
    """One prediction taken apart: contributions sum with the bias to the raw score."""

    symbol: str
    time: datetime
    score: float
    raw_score: float
    bias: float
    values: dict[str, float]  # the feature values (NaN when missing)
    contributions: dict[str, float]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Contributions of every feature to every row, in the order of the input rows."""

    keys: pa.Table  # symbol, time
    feature_names: tuple[str, ...]
    values: np.ndarray  # (rows, features)
    contributions: np.ndarray  # (rows, features)
    bias: np.ndarray  # (rows,)
    raw_score: np.ndarray  # (rows,)
    score: np.ndarray  # (rows,)

    def row(self, i: int) -> RowExplanation:
        return RowExplanation(
            symbol=self.keys.column("symbol")[i].as_py(),
            time=self.keys.column("time")[i].as_py(),
            score=float(self.score[i]),
            raw_score=float(self.raw_score[i]),
            bias=float(self.bias[i]),
            values=dict(zip(self.feature_names, self.values[i].tolist(), strict=True)),
            contributions=dict(
                zip(self.feature_names, self.contributions[i].tolist(), strict=True)
            ),
        )

    def to_table(self) -> pa.Table:
        """Long layout: one row per (symbol, time, feature) with its value and contribution."""
        n, k = self.contributions.shape
        repeat = np.repeat(np.arange(n), k)
        values = self.values.reshape(-1)
        return pa.table(
            {
                "symbol": self.keys.column("symbol").take(pa.array(repeat)),
                "time": self.keys.column("time").take(pa.array(repeat)),
                "feature": pa.array(list(self.feature_names) * n, pa.string()),
                "value": pa.array(values, pa.float64(), mask=np.isnan(values)),
                "contribution": pa.array(self.contributions.reshape(-1), pa.float64()),
            },
            schema=EXPLANATION_SCHEMA,
        )


@dataclass(frozen=True, eq=False)
class ScoringModel:
    """A loaded model version, ready to score feature tables."""

    name: str
    version: int
    booster: lgb.Booster
    feature_names: tuple[str, ...]
    label: str
    kind: ModelKind
    feature_view: FeatureViewRef

    @classmethod
    def from_trained(
        cls, model: TrainedModel, name: str, version: int, feature_view: FeatureViewRef
    ) -> ScoringModel:
        return cls(
            name, version, model.booster, model.feature_names, model.label, model.kind, feature_view
        )

    def features_of(self, features: pa.Table) -> tuple[pa.Table, np.ndarray]:
        """(keys, matrix in the model's feature order); InvalidArgument naming missing columns."""
        missing = [c for c in self.feature_names if c not in features.column_names]
        if missing:
            raise InvalidArgument(
                f"features: the model {self.name}/{self.version} needs column(s) "
                f"{', '.join(missing)}, which the table lacks",
                reason="MISSING_FEATURES",
                metadata={
                    "columns": ",".join(missing),
                    "model": self.name,
                    "version": str(self.version),
                    "feature_view_version": self.feature_view.version,
                },
                violations=[FieldViolation(f"features.{c}", "column is missing") for c in missing],
            )
        table = normalize_keys(features, "features")
        check_numeric(table, self.feature_names, "features")
        return table.select(list(KEY_COLUMNS)), matrix(table, self.feature_names)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores of a (rows, features) matrix in the model's feature order."""
        if len(x) == 0:
            return np.empty(0)
        # A few rows score faster on one thread than through an OpenMP fork-join.
        threads: dict[str, Any] = {"num_threads": 1} if len(x) < 256 else {}
        scores: np.ndarray = np.asarray(self.booster.predict(x, **threads), dtype=np.float64)
        return scores

    @cached_property
    def _row_predictor(self) -> RowPredictor:
        return RowPredictor(self.booster)

    def predict_one(self, row: np.ndarray) -> float:
        """The score of one row of features in the model's order (`predict` for one row,
        without its per-call set-up)."""
        return self._row_predictor.predict(row)

    def score(self, features: pa.Table) -> pa.Table:
        """SCORE_SCHEMA rows (symbol, time, score), one per input row, in input order."""
        keys, x = self.features_of(features)
        return pa.table(
            {
                "symbol": keys.column("symbol"),
                "time": keys.column("time"),
                "score": pa.array(self.predict(x), pa.float64()),
            },
            schema=SCORE_SCHEMA,
        )

    def explain(self, features: pa.Table) -> Explanation:
        """Per-feature SHAP contributions (raw-score space) of every row."""
        keys, x = self.features_of(features)
        k = len(self.feature_names)
        if len(x) == 0:
            contrib = np.empty((0, k + 1))
        else:
            contrib = np.asarray(self.booster.predict(x, pred_contrib=True), dtype=np.float64)
        raw = contrib.sum(axis=1)
        score = 1.0 / (1.0 + np.exp(-raw)) if self.kind is ModelKind.CLASSIFIER else raw
        return Explanation(
            keys=keys,
            feature_names=self.feature_names,
            values=x,
            contributions=contrib[:, :k],
            bias=contrib[:, k],
            raw_score=raw,
            score=score,
        )
