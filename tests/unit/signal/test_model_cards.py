"""Model cards in a real MongoDB server process (mongod, else nx-27017) through motor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from services.runtime.errors import InvalidArgument, NotFound
from services.signal.domain.model_cards import COLLECTION, ModelCard, ModelCardStore
from services.signal.domain.refs import FeatureViewRef
from services.signal.domain.results import TrainingResult

VIEW = FeatureViewRef("default", "0a1b2c3d4e5f-12345678", datetime(2018, 11, 23, tzinfo=UTC))


@pytest.fixture
async def store(mongo_db: Any) -> ModelCardStore:
    cards = ModelCardStore(mongo_db)
    await cards.start()
    await cards.start()  # idempotent
    return cards


def _card(result: TrainingResult, model: str = "alpha", version: int = 1) -> ModelCard:
    return ModelCard.from_training(model, version, f"run-{version}", result, VIEW)


async def test_a_card_round_trips_with_its_provenance(
    store: ModelCardStore, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    result = trained[1]  # a regressor: log loss undefined
    card = _card(result)
    await store.upsert(card)
    loaded = await store.get("alpha", 1)
    assert loaded == card
    assert loaded.feature_view == VIEW
    assert loaded.features == result.model.feature_names
    assert loaded.data_hash == result.data_hash
    assert (loaded.train_start, loaded.train_end) == (result.window.start, result.window.end)
    assert loaded.metrics["ic"] == pytest.approx(result.overall.ic)
    assert "log_loss" not in loaded.metrics
    assert [f.index for f in loaded.folds] == [0, 1, 2]
    assert loaded.folds[1].metrics == result.folds[1].metrics.as_dict()


async def test_upsert_replaces_the_card_of_the_same_version(
    store: ModelCardStore, trained: tuple[TrainingResult, TrainingResult], mongo_db: Any
) -> None:
    await store.upsert(_card(trained[0]))
    await store.upsert(replace(_card(trained[0]), warnings=("checked by hand",)))
    assert (await store.get("alpha", 1)).warnings == ("checked by hand",)
    assert await mongo_db[COLLECTION].count_documents({}) == 1


async def test_model_and_version_are_unique(
    store: ModelCardStore, trained: tuple[TrainingResult, TrainingResult], mongo_db: Any
) -> None:
    card = _card(trained[0])
    await store.upsert(card)
    with pytest.raises(DuplicateKeyError):
        await mongo_db[COLLECTION].insert_one(card.to_document())


async def test_cards_are_listed_by_model_newest_version_first(
    store: ModelCardStore, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    for model, version in (("beta", 1), ("alpha", 1), ("alpha", 3), ("alpha", 2)):
        await store.upsert(_card(trained[version % 2], model, version))
    assert [(c.model, c.version) for c in await store.list()] == [
        ("alpha", 3),
        ("alpha", 2),
        ("alpha", 1),
        ("beta", 1),
    ]
    assert [c.version for c in await store.list("alpha", limit=2)] == [3, 2]
    assert await store.list("gamma") == []


async def test_unknown_cards_are_not_found_and_bad_ones_refused(
    store: ModelCardStore, trained: tuple[TrainingResult, TrainingResult]
) -> None:
    with pytest.raises(NotFound):
        await store.get("alpha", 1)
    with pytest.raises(InvalidArgument):
        await store.upsert(_card(trained[0], model="bad name"))
    with pytest.raises(InvalidArgument):
        await store.upsert(_card(trained[0], version=0))
    await store.upsert(_card(trained[0]))
    assert await store.delete("alpha", 1) is True
    assert await store.delete("alpha", 1) is False
    with pytest.raises(NotFound):
        await store.get("alpha", 1)
