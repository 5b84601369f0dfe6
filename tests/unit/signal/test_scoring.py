"""Scoring and explaining feature tables with a trained model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from services.runtime.errors import InvalidArgument
from services.signal.domain.refs import FeatureViewRef
from services.signal.domain.results import TrainingResult
from services.signal.domain.scoring import EXPLANATION_SCHEMA, SCORE_SCHEMA, ScoringModel

VIEW = FeatureViewRef("default", "abc123-def4")


@pytest.fixture
def classifier(trained: tuple[TrainingResult, TrainingResult]) -> ScoringModel:
    return ScoringModel.from_trained(trained[0].model, "alpha", 1, VIEW)


@pytest.fixture
def regressor(trained: tuple[TrainingResult, TrainingResult]) -> ScoringModel:
    return ScoringModel.from_trained(trained[1].model, "beta", 1, VIEW)


def test_scores_come_back_per_row_in_input_order(
    classifier: ScoringModel, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    features = synthetic[0].slice(500, 50)
    scores = classifier.score(features)
    assert scores.schema == SCORE_SCHEMA
    assert scores.column("symbol").equals(features.column("symbol"))
    assert scores.column("time").equals(features.column("time"))
    expected = classifier.booster.predict(
        np.column_stack([features.column(n).to_numpy() for n in classifier.feature_names])
    )
    assert scores.column("score").to_numpy() == pytest.approx(expected, abs=0)
    assert ((scores.column("score").to_numpy() > 0) & (scores.column("score").to_numpy() < 1)).all()


def test_column_order_extra_columns_and_naive_times_do_not_matter(
    classifier: ScoringModel, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    features = synthetic[0].slice(0, 40)
    reordered = features.select(list(reversed(features.column_names))).append_column(
        "unused", pa.array(np.ones(40))
    )
    naive = reordered.set_column(
        reordered.schema.get_field_index("time"),
        "time",
        reordered.column("time").cast(pa.timestamp("us")),
    )
    assert classifier.score(naive).equals(classifier.score(features))


def test_missing_feature_columns_are_named(
    classifier: ScoringModel, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    features = synthetic[0].drop_columns(["vol_20", "gap"])
    with pytest.raises(InvalidArgument) as caught:
        classifier.score(features)
    assert caught.value.reason == "MISSING_FEATURES"
    assert caught.value.metadata["columns"] == "vol_20,gap"
    assert {v.field for v in caught.value.violations} == {"features.vol_20", "features.gap"}
    with pytest.raises(InvalidArgument, match="symbol"):
        classifier.score(synthetic[0].drop_columns(["symbol"]))
    text = synthetic[0].set_column(2, "ret_1", pa.array(["x"] * synthetic[0].num_rows))
    with pytest.raises(InvalidArgument, match="ret_1"):
        classifier.score(text)


def test_missing_values_are_scored_not_refused(
    classifier: ScoringModel, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    features = synthetic[0].slice(0, 3)  # the first sessions: ret_20 etc. are still null
    assert features.column("ret_20").null_count == 3
    assert np.isfinite(classifier.score(features).column("score").to_numpy()).all()


def test_an_empty_table_scores_to_an_empty_table(
    classifier: ScoringModel, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    assert classifier.score(synthetic[0].slice(0, 0)).num_rows == 0
    assert classifier.explain(synthetic[0].slice(0, 0)).to_table().num_rows == 0


@pytest.mark.parametrize("which", ["classifier", "regressor"])
def test_contributions_add_up_to_the_score(
    which: str, request: pytest.FixtureRequest, synthetic: tuple[pa.Table, pa.Table]
) -> None:
    model: ScoringModel = request.getfixturevalue(which)
    features = synthetic[0].slice(1000, 20)
    explanation = model.explain(features)
    scores = model.score(features).column("score").to_numpy()
    raw = explanation.bias + explanation.contributions.sum(axis=1)
    assert raw == pytest.approx(explanation.raw_score)
    assert explanation.score == pytest.approx(scores, rel=1e-9)
    if which == "classifier":
        assert scores == pytest.approx(1 / (1 + np.exp(-raw)), rel=1e-9)
    row = explanation.row(3)
    assert row.symbol == features.column("symbol")[3].as_py()
    assert set(row.contributions) == set(model.feature_names)
    assert row.bias + sum(row.contributions.values()) == pytest.approx(row.raw_score)
    table = explanation.to_table()
    assert table.schema == EXPLANATION_SCHEMA
    assert table.num_rows == 20 * len(model.feature_names)
    assert table.column("feature").to_pylist()[: len(model.feature_names)] == list(
        model.feature_names
    )
