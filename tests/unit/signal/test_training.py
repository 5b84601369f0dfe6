"""Training with purged walk-forward validation: leak warning, determinism, refusals, progress."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.runtime.errors import Cancelled, FailedPrecondition, InvalidArgument
from services.signal.domain import training
from services.signal.domain.metrics import evaluate
from services.signal.domain.train_config import ModelKind, TrainConfig
from services.signal.domain.training import train_model

# One LightGBM thread: the tests run beside others on small machines, where spinning OpenMP
# threads slow down far more than they help.
FAST = TrainConfig(
    label="direction_1", n_folds=3, max_rounds=150, early_stopping_rounds=20, num_threads=1
)


def _with_column(table: pa.Table, name: str, values: pa.ChunkedArray | pa.Array) -> pa.Table:
    return table.append_column(name, values)


def test_a_label_smuggled_in_under_another_name_raises_the_leak_warning(
    dow30: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = dow30
    smuggled = _with_column(features, "momentum_x", labels.column("fwd_ret_1"))
    result = train_model(smuggled, labels, FAST)
    assert result.overall.hit_rate is not None and result.overall.hit_rate > 0.9
    assert any("hit rate" in w for w in result.warnings)
    assert any("IC" in w for w in result.warnings)


def test_a_noisy_future_return_trips_the_ic_warning_of_a_regressor(
    dow30: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = dow30
    future = labels.column("fwd_ret_5").to_numpy()
    noisy = future + np.random.default_rng(1).normal(0, 0.05, len(future))
    smuggled = _with_column(features, "analyst_view", pa.array(noisy, from_pandas=True))
    result = train_model(smuggled, labels, replace(FAST, label="fwd_ret_5"))
    assert result.model.kind is ModelKind.REGRESSOR
    assert result.overall.ic is not None and result.overall.ic > 0.15
    assert any("IC" in w for w in result.warnings)


@pytest.mark.parametrize("label", ["direction_1", "fwd_ret_5"])
def test_real_features_stay_quiet_and_look_like_a_market(
    dow30: tuple[pa.Table, pa.Table], label: str
) -> None:
    features, labels = dow30
    result = train_model(features, labels, replace(FAST, label=label, n_folds=4))
    overall = result.overall
    assert result.warnings == ()
    assert overall.ic is not None and abs(overall.ic) < 0.08
    assert overall.hit_rate is not None and 0.45 < overall.hit_rate < 0.6
    assert overall.auc is not None and 0.45 < overall.auc < 0.6
    assert len(result.folds) == 4
    assert result.rows.features == 29 * 2518
    assert result.window.start == datetime(2008, 11, 24, tzinfo=UTC)
    # every fold validates strictly after its training dates
    for fold in result.folds:
        assert fold.train_end < fold.validation_start
        assert fold.validation_rows > 0 and fold.best_iteration >= 1
    assert sum(f.validation_rows for f in result.folds) == overall.rows
    oos = result.oos_scores
    assert oos.num_rows == overall.rows
    assert oos.column("fold").to_pylist() == sorted(oos.column("fold").to_pylist())
    return_column = "fwd_ret_1" if label == "direction_1" else label
    again = evaluate(
        oos.column("time").cast(pa.int64()).to_numpy(),
        oos.column("score").to_numpy(),
        oos.column(return_column).to_numpy(),
        probability=label.startswith("direction"),
    )
    assert again == overall


def test_training_is_deterministic_and_independent_of_row_order(
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = synthetic
    first = train_model(features, labels, FAST)
    again = train_model(features, labels, FAST)
    order = np.random.default_rng(5).permutation(features.num_rows)
    shuffled = train_model(features.take(order), labels.take(order[::-1]), FAST)
    for other in (again, shuffled):
        assert other.model.model_string() == first.model.model_string()
        assert other.overall == first.overall
        assert other.data_hash == first.data_hash


def test_the_data_hash_changes_with_the_data(synthetic: tuple[pa.Table, pa.Table]) -> None:
    features, labels = synthetic
    base = train_model(features, labels, FAST).data_hash
    values = features.column("ret_5").to_numpy().copy()
    values[100] += 0.001
    changed = features.set_column(
        features.schema.get_field_index("ret_5"), "ret_5", pa.array(values)
    )
    assert train_model(changed, labels, FAST).data_hash != base
    fewer = replace(FAST, features=("ret_1", "ret_5", "vol_20"))
    assert train_model(features, labels, fewer).data_hash != base


def test_early_stopping_never_sees_the_validation_block(
    synthetic: tuple[pa.Table, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    features, labels = synthetic
    day = pc.divide(features.column("time").cast(pa.int64()), 86_400_000_000)
    features = _with_column(features, "day", day.cast(pa.float64()))
    seen: list[tuple[float, float | None]] = []
    real_train = lgb.train

    def spy(params: dict[str, Any], dataset: lgb.Dataset, **kwargs: Any) -> lgb.Booster:
        column = list(dataset.feature_name).index("day")
        fit_last = float(np.max(dataset.data[:, column]))
        valid = kwargs.get("valid_sets") or []
        stop_first = float(np.min(valid[0].data[:, column])) if valid else None
        stop_last = float(np.max(valid[0].data[:, column])) if valid else None
        seen.append((fit_last, stop_first))
        if stop_last is not None:
            seen.append((stop_last, None))
        return real_train(params, dataset, **kwargs)

    monkeypatch.setattr(training.lgb, "train", spy)
    result = train_model(features, labels, replace(FAST, label="direction_5"))
    days = [d.timestamp() / 86_400 for f in result.folds for d in (f.validation_start,)]
    # per fold: (fit end, stop start), (stop end, None); then the final fit on everything
    for k, first_validation_day in enumerate(days):
        (fit_last, stop_first), (stop_last, _) = seen[2 * k], seen[2 * k + 1]
        assert stop_first is not None and fit_last < stop_first - 5  # purged (5 sessions)
        assert stop_last < first_validation_day - 5  # early stopping is all before the block
    assert seen[-1][1] is None  # the final model has no early stopping


def test_labels_can_never_be_features(synthetic: tuple[pa.Table, pa.Table]) -> None:
    features, labels = synthetic
    with pytest.raises(InvalidArgument) as caught:
        train_model(features, labels, replace(FAST, features=("ret_1", "fwd_ret_1")))
    assert caught.value.reason == "LABEL_AS_FEATURE" and "fwd_ret_1" in caught.value.message
    with_label = _with_column(features, "direction_5", labels.column("direction_5"))
    with pytest.raises(InvalidArgument, match="direction_5"):
        train_model(with_label, labels, FAST)  # every numeric column: the label is refused
    extra = _with_column(labels, "alpha", labels.column("fwd_ret_20"))
    with_alpha = _with_column(features, "alpha", labels.column("fwd_ret_20"))
    with pytest.raises(InvalidArgument, match="alpha"):
        train_model(with_alpha, extra, FAST)  # a column of the label table is a label too


def test_rows_without_the_label_are_dropped_and_counted(
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = synthetic
    result = train_model(features, labels, replace(FAST, label="direction_5"))
    symbols = len(set(features.column("symbol").to_pylist()))
    assert result.rows.joined == features.num_rows
    assert result.rows.missing_label == 5 * symbols  # the last 5 sessions have no future
    assert result.rows.used == features.num_rows - 5 * symbols
    assert result.dates == 400 - 5


def test_direction_labels_may_be_int8_as_the_feature_store_sends_them(
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = synthetic
    as_int = labels.set_column(
        labels.schema.get_field_index("direction_1"),
        "direction_1",
        labels.column("direction_1").cast(pa.int8()),
    )
    assert (
        train_model(features, as_int, FAST).overall == train_model(features, labels, FAST).overall
    )


def test_progress_is_reported_and_cancellation_stops_training(
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = synthetic
    steps: list[tuple[float, str]] = []
    train_model(features, labels, FAST, progress=lambda f, m: steps.append((f, m)))
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("fold 3/3" in m for _, m in steps)
    calls = 0

    def cancel_soon() -> bool:
        nonlocal calls
        calls += 1
        return calls > 10  # inside the first fold's boosting

    with pytest.raises(Cancelled):
        train_model(features, labels, FAST, should_cancel=cancel_soon)


def test_bad_input_is_refused_with_the_field_named(synthetic: tuple[pa.Table, pa.Table]) -> None:
    features, labels = synthetic
    cases: list[tuple[pa.Table, pa.Table, TrainConfig, str]] = [
        (features, labels, replace(FAST, label="fwd_ret_7"), "labels.fwd_ret_7"),
        (features, labels, replace(FAST, label="close"), "label"),
        (features, labels, replace(FAST, features=("nope",)), "features"),
        (features, labels, replace(FAST, features=()), "features"),
        (features, labels, replace(FAST, n_folds=500), "n_folds"),
        (features, labels, replace(FAST, learning_rate=0), "learning_rate"),
        (features, labels, replace(FAST, window="random"), "window"),
        (features.drop_columns(["time"]), labels, FAST, "features.time"),
        (pa.concat_tables([features, features.slice(0, 1)]), labels, FAST, "features"),
        (features, labels.drop_columns(["fwd_ret_1"]), FAST, "labels.fwd_ret_1"),
        (
            _with_column(features, "name", pa.array(["x"] * features.num_rows)),
            labels,
            replace(FAST, features=("ret_1", "name")),
            "features.name",
        ),
    ]
    for f, lab, config, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            train_model(f, lab, config)
        assert caught.value.violations, config
        assert caught.value.violations[0].field == field, (field, caught.value)


def test_no_overlap_between_features_and_labels_is_a_failed_precondition(
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    features, labels = synthetic
    half = features.num_rows // 2
    other = labels.filter(pc.is_in(labels.column("symbol"), pa.array(["SYN001"])))
    mine = features.filter(pc.invert(pc.is_in(features.column("symbol"), pa.array(["SYN001"]))))
    assert half > 0
    with pytest.raises(FailedPrecondition):
        train_model(mine, other, FAST)
