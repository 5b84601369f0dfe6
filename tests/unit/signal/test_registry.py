"""The MLflow registry: runs, versions, aliases, loading; train → register → promote → score."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from mlflow import MlflowClient

from services.runtime.errors import InvalidArgument, NotFound
from services.signal.domain.refs import FeatureViewRef, ModelRef
from services.signal.domain.registry import ModelRegistry
from services.signal.domain.results import TrainingResult
from services.signal.domain.serving import ModelResolver

WATERMARK = datetime(2024, 5, 1, 21, 0, tzinfo=UTC)
VIEW = FeatureViewRef("default", "0a1b2c3d4e5f-12345678", WATERMARK)


def test_a_registered_version_carries_its_run_metrics_tags_and_model(
    registry: ModelRegistry, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    result = trained[0]
    info = registry.register("alpha", result, VIEW)
    assert (info.name, info.version, info.aliases) == ("alpha", 1, ("challenger", "champion"))
    assert info.label == "direction_1" and info.kind.value == "classifier"
    assert info.feature_view == VIEW
    assert info.data_hash == result.data_hash

    client = MlflowClient(tracking_uri=registry.tracking_uri)
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["quantmesh.feature_view_version"] == VIEW.version
    assert run.data.tags["quantmesh.data_watermark"] == WATERMARK.isoformat()
    assert run.data.tags["quantmesh.data_hash"] == result.data_hash
    assert run.data.params["label"] == "direction_1"
    assert run.data.params["lgb_num_leaves"] == "15"
    assert run.data.metrics["oos_ic"] == pytest.approx(result.overall.ic)
    history = client.get_metric_history(info.run_id, "fold_ic")
    assert sorted(m.step for m in history) == [0, 1, 2]
    artifacts = {a.path for a in client.list_artifacts(info.run_id, "model")}
    assert artifacts == {"model/model.txt", "model/model.json"}
    assert (registry.model("alpha").aliases) == {"champion": 1, "challenger": 1}


def test_the_loaded_model_scores_exactly_like_the_trained_one(
    registry: ModelRegistry,
    trained: tuple[TrainingResult, TrainingResult],
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    result = trained[1]
    info = registry.register("beta", result, VIEW)
    loaded = registry.load(info)
    assert loaded.feature_names == result.model.feature_names
    assert (loaded.name, loaded.version, loaded.label) == ("beta", 1, "fwd_ret_5")
    assert loaded.feature_view == VIEW
    x = np.column_stack([synthetic[0].column(n).to_numpy() for n in loaded.feature_names])
    assert loaded.predict(x) == pytest.approx(result.model.booster.predict(x), abs=1e-12)


def test_new_versions_are_challengers_and_promotion_moves_the_champion(
    registry: ModelRegistry, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    registry.register("alpha", trained[0], VIEW)
    second = registry.register("alpha", trained[1], VIEW)
    assert (second.version, second.aliases) == (2, ("challenger",))
    assert registry.resolve("alpha@champion").version == 1
    assert registry.resolve("alpha@challenger").version == 2
    promotion = registry.promote("alpha", "champion", 2)
    assert (promotion.previous_version, promotion.version.version) == (1, 2)
    assert promotion.version.aliases == ("challenger", "champion")
    assert registry.resolve(ModelRef("alpha", alias="champion")).version == 2
    assert registry.resolve("alpha/1").aliases == ()
    third = registry.register("alpha", trained[0], VIEW, aliases=())
    assert third.aliases == () and registry.resolve("alpha@challenger").version == 2


def test_models_are_listed_with_versions_and_aliases(
    registry: ModelRegistry, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    assert registry.list_models() == []
    registry.register("zeta", trained[0], VIEW)
    registry.register("alpha", trained[0], VIEW)
    registry.register("alpha", trained[1], VIEW)
    models = registry.list_models()
    assert [m.name for m in models] == ["alpha", "zeta"]
    assert [v.version for v in models[0].versions] == [2, 1]
    assert models[0].aliases == {"champion": 1, "challenger": 2}
    assert [v.aliases for v in models[0].versions] == [("challenger",), ("champion",)]


def test_unknown_models_aliases_and_versions_are_not_found(
    registry: ModelRegistry, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    registry.register("alpha", trained[0], VIEW, aliases=("challenger",))
    for ref in ("nobody@champion", "alpha@champion", "alpha/7", "nobody/1"):
        with pytest.raises(NotFound):
            registry.resolve(ref)
    with pytest.raises(NotFound):
        registry.promote("alpha", "champion", 9)
    with pytest.raises(NotFound):
        registry.promote("nobody", "champion", 1)
    with pytest.raises(NotFound):
        registry.model("nobody")
    registry.remove_alias("alpha", "challenger")
    with pytest.raises(NotFound):
        registry.resolve("alpha@challenger")
    with pytest.raises(NotFound):
        registry.remove_alias("alpha", "challenger")


def test_bad_names_and_aliases_are_invalid(
    registry: ModelRegistry, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    for text in ("alpha@prod", "al pha@champion", "alpha/0", "alpha/x", "@champion", ""):
        with pytest.raises(InvalidArgument):
            registry.resolve(text)
    with pytest.raises(InvalidArgument):
        registry.register("bad name", trained[0], VIEW)
    with pytest.raises(InvalidArgument):
        registry.register("alpha", trained[0], VIEW, aliases=("production",))
    with pytest.raises(InvalidArgument):
        registry.promote("alpha", "latest", 1)
    assert registry.list_models() == []  # nothing half-registered


def test_train_register_promote_and_the_resolver_follows_the_alias(
    registry: ModelRegistry,
    trained: tuple[TrainingResult, TrainingResult],
    synthetic: tuple[pa.Table, pa.Table],
) -> None:
    now = [0.0]
    resolver = ModelResolver(registry, alias_ttl_s=5.0, clock=lambda: now[0])
    latest_day = synthetic[0].slice(synthetic[0].num_rows - 12)  # one row per symbol
    registry.register("alpha", trained[0], VIEW)
    first = resolver.get("alpha@champion")
    assert first.version == 1
    before = first.score(latest_day)

    registry.register("alpha", trained[1], VIEW)
    registry.promote("alpha", "champion", 2)
    assert resolver.get("alpha@champion").version == 1  # within the TTL: no registry call
    now[0] += 5.0
    second = resolver.get("alpha@champion")
    assert second.version == 2 and second.label == "fwd_ret_5"
    after = second.score(latest_day)
    assert after.column("symbol").equals(before.column("symbol"))
    assert not np.allclose(after.column("score").to_numpy(), before.column("score").to_numpy())

    registry.promote("alpha", "champion", 1)  # roll back; invalidate = in-process promotion
    resolver.invalidate("alpha")
    assert resolver.get("alpha@champion") is first  # the booster was cached by version
    assert resolver.get("alpha/2") is second
