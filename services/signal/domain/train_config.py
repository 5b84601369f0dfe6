"""What to train and how: the label, features, splits and LightGBM settings of a training run.

The label decides the model kind: a direction label (`direction_<h>`) trains a binary classifier
whose score is the probability of an up move; a return label (`fwd_ret_<h>`) a regressor whose
score is the forecast forward log return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.runtime.errors import InvalidArgument
from services.signal.domain.frames import LabelKind, LabelSpec, parse_label
from services.signal.domain.splits import SplitScheme


class ModelKind(StrEnum):
    CLASSIFIER = "classifier"
    REGRESSOR = "regressor"


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. `features=None` takes every numeric column of the feature table."""

    label: str
    features: tuple[str, ...] | None = None
    n_folds: int = 5
    window: str = SplitScheme.EXPANDING.value
    train_size: int | None = None  # ROLLING: dates per training window
    test_size: int | None = None  # dates per validation block
    embargo: int | None = None  # dates; None: the label horizon
    min_train_dates: int = 20
    early_stopping_fraction: float = 0.2
    early_stopping_rounds: int = 50
    max_rounds: int = 500
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    seed: int = 7
    num_threads: int = 2
    min_names: int = 3  # symbols a date needs to count in the IC
    extra_params: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def label_spec(self) -> LabelSpec:
        return parse_label(self.label)

    @property
    def kind(self) -> ModelKind:
        direction = self.label_spec.kind is LabelKind.DIRECTION
        return ModelKind.CLASSIFIER if direction else ModelKind.REGRESSOR

    @property
    def effective_embargo(self) -> int:
        return self.label_spec.horizon if self.embargo is None else self.embargo

    def lightgbm_params(self) -> dict[str, Any]:
        """The LightGBM parameters of every fit (fold and final)."""
        classifier = self.kind is ModelKind.CLASSIFIER
        params: dict[str, Any] = {
            "objective": "binary" if classifier else "regression",
            "metric": "binary_logloss" if classifier else "l2",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1.0 else 0,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        params.update(self.extra_params)
        return params

    def validate(self) -> None:
        """InvalidArgument naming the first out-of-range setting."""
        parse_label(self.label)
        checks: list[tuple[str, bool, str]] = [
            ("n_folds", self.n_folds >= 1, "must be at least 1"),
            ("max_rounds", self.max_rounds >= 1, "must be at least 1"),
            ("early_stopping_rounds", self.early_stopping_rounds >= 1, "must be at least 1"),
            ("learning_rate", 0.0 < self.learning_rate <= 1.0, "must be in (0, 1]"),
            ("num_leaves", self.num_leaves >= 2, "must be at least 2"),
            ("min_data_in_leaf", self.min_data_in_leaf >= 1, "must be at least 1"),
            ("feature_fraction", 0.0 < self.feature_fraction <= 1.0, "must be in (0, 1]"),
            ("bagging_fraction", 0.0 < self.bagging_fraction <= 1.0, "must be in (0, 1]"),
            ("lambda_l2", self.lambda_l2 >= 0.0, "must not be negative"),
            ("num_threads", self.num_threads >= 1, "must be at least 1"),
            ("min_names", self.min_names >= 2, "must be at least 2"),
            ("embargo", self.embargo is None or self.embargo >= 0, "must not be negative"),
            (
                "early_stopping_fraction",
                0.0 < self.early_stopping_fraction < 1.0,
                "must be in (0, 1)",
            ),
            ("min_train_dates", self.min_train_dates >= 1, "must be at least 1"),
        ]
        for name, ok, description in checks:
            if not ok:
                raise InvalidArgument.for_field(name, description)
        if self.window not in {s.value for s in SplitScheme}:
            raise InvalidArgument.for_field(
                "window", f"{self.window!r} is not one of {', '.join(s.value for s in SplitScheme)}"
            )
