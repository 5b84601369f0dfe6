"""One-row predictions answer exactly what `Booster.predict` answers."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pytest

from services.signal.domain.refs import FeatureViewRef
from services.signal.domain.results import TrainingResult
from services.signal.domain.row_predictor import RowPredictor
from services.signal.domain.scoring import ScoringModel

VIEW = FeatureViewRef("default", "abc123-def4")


def feature_matrix(model: ScoringModel, features: pa.Table) -> np.ndarray:
    return np.column_stack([features.column(n).to_numpy() for n in model.feature_names])


@pytest.mark.parametrize("which", [0, 1], ids=["classifier", "regressor"])
def test_each_row_scores_as_the_booster_predicts_it(
    which: int, trained: tuple[TrainingResult, TrainingResult], synthetic: tuple[pa.Table, pa.Table]
) -> None:
    model = ScoringModel.from_trained(trained[which].model, "m", 1, VIEW)
    x = feature_matrix(model, synthetic[0].slice(0, 300))  # the first rows hold warm-up NaNs
    assert np.isnan(x).any()
    expected = model.booster.predict(x)
    got = np.array([model.predict_one(row) for row in x])
    np.testing.assert_array_equal(got, expected)


def test_a_model_read_back_from_text_predicts_the_same(
    trained: tuple[TrainingResult, TrainingResult], synthetic: tuple[pa.Table, pa.Table]
) -> None:
    booster = lgb.Booster(model_str=trained[0].model.booster.model_to_string())
    model = ScoringModel.from_trained(trained[0].model, "m", 1, VIEW)
    x = feature_matrix(model, synthetic[0].slice(400, 50))
    predictor = RowPredictor(booster)
    np.testing.assert_array_equal([predictor.predict(r) for r in x], booster.predict(x))


def test_the_best_iteration_is_used_as_predict_uses_it() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 5))
    y = x[:, 0] + rng.normal(scale=2.0, size=600)
    booster = lgb.train(
        {"objective": "regression", "verbose": -1, "learning_rate": 0.3},
        lgb.Dataset(x[:400], y[:400]),
        num_boost_round=200,
        valid_sets=[lgb.Dataset(x[400:], y[400:])],
        callbacks=[lgb.early_stopping(5, verbose=False)],
        keep_training_booster=True,  # keeps the rounds after the best one
    )
    assert 0 < booster.best_iteration < booster.current_iteration()
    predictor = RowPredictor(booster)
    got = [predictor.predict(r) for r in x[:50]]
    np.testing.assert_array_equal(got, booster.predict(x[:50]))
    assert not np.array_equal(got, booster.predict(x[:50], num_iteration=-1))


def test_a_row_of_the_wrong_length_is_refused(
    trained: tuple[TrainingResult, TrainingResult],
) -> None:
    predictor = RowPredictor(trained[0].model.booster)
    with pytest.raises(ValueError, match=f"expected {predictor.columns} feature values"):
        predictor.predict(np.zeros(predictor.columns + 1))


def test_multi_output_models_are_refused() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 3))
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1},
        lgb.Dataset(x, np.arange(90) % 3),
        num_boost_round=2,
    )
    with pytest.raises(ValueError, match="single-output"):
        RowPredictor(booster)
