"""Model cards in MongoDB (motor): what each registered version was trained on and how it did.

Collection `model_cards`, one document per (model, version), unique index `model_version`:

    {model, version, run_id, label, kind, features: [..], feature_view, feature_view_version,
     data_watermark, train_start, train_end, data_hash, rows, dates, num_rounds,
     metrics: {ic, rank_ic, icir, hit_rate, auc, log_loss, ...},
     folds: [{index, train_start, train_end, validation_start, validation_end, best_iteration,
              metrics: {...}}, ...],
     warnings: [..], params: {..}, feature_importance: {feature: gain}, created_at}

Times are BSON dates (UTC); undefined metrics are left out (NaN is not valid in every server's
JSON). Only standard commands: createIndexes, replaceOne with upsert, find, sort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.runtime.errors import InvalidArgument, NotFound
from services.signal.domain.refs import FeatureViewRef, check_model_name
from services.signal.domain.results import TrainingResult

COLLECTION = "model_cards"


@dataclass(frozen=True)
class FoldCard:
    index: int
    train_start: datetime
    train_end: datetime
    validation_start: datetime
    validation_end: datetime
    best_iteration: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class ModelCard:
    """The card of one registered model version."""

    model: str
    version: int
    run_id: str
    label: str
    kind: str
    features: tuple[str, ...]
    feature_view: FeatureViewRef
    train_start: datetime
    train_end: datetime
    data_hash: str
    rows: int
    dates: int
    num_rounds: int
    metrics: dict[str, float]
    folds: tuple[FoldCard, ...]
    warnings: tuple[str, ...]
    params: dict[str, str | int | float | bool]
    feature_importance: dict[str, float]
    created_at: datetime = field(default_factory=lambda: _now_ms())

    @classmethod
    def from_training(
        cls,
        model: str,
        version: int,
        run_id: str,
        result: TrainingResult,
        feature_view: FeatureViewRef,
    ) -> ModelCard:
        return cls(
            model=model,
            version=version,
            run_id=run_id,
            label=result.model.label,
            kind=result.model.kind.value,
            features=result.model.feature_names,
            feature_view=feature_view,
            train_start=result.window.start,
            train_end=result.window.end,
            data_hash=result.data_hash,
            rows=result.rows.used,
            dates=result.dates,
            num_rounds=result.model.num_rounds,
            metrics=result.overall.as_dict(),
            folds=tuple(
                FoldCard(
                    f.index,
                    f.train_start,
                    f.train_end,
                    f.validation_start,
                    f.validation_end,
                    f.best_iteration,
                    f.metrics.as_dict(),
                )
                for f in result.folds
            ),
            warnings=result.warnings,
            params={k: _plain(v) for k, v in result.model.params.items()},
            feature_importance=dict(result.feature_importance),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "label": self.label,
            "kind": self.kind,
            "features": list(self.features),
            "feature_view": self.feature_view.name,
            "feature_view_version": self.feature_view.version,
            "data_watermark": self.feature_view.watermark,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "data_hash": self.data_hash,
            "rows": self.rows,
            "dates": self.dates,
            "num_rounds": self.num_rounds,
            "metrics": _finite(self.metrics),
            "folds": [
                {
                    "index": f.index,
                    "train_start": f.train_start,
                    "train_end": f.train_end,
                    "validation_start": f.validation_start,
                    "validation_end": f.validation_end,
                    "best_iteration": f.best_iteration,
                    "metrics": _finite(f.metrics),
                }
                for f in self.folds
            ],
            "warnings": list(self.warnings),
            "params": dict(self.params),
            "feature_importance": _finite(self.feature_importance),
            "created_at": self.created_at,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ModelCard:
        return cls(
            model=doc["model"],
            version=int(doc["version"]),
            run_id=doc.get("run_id", ""),
            label=doc["label"],
            kind=doc["kind"],
            features=tuple(doc.get("features", ())),
            feature_view=FeatureViewRef(
                doc.get("feature_view", ""),
                str(doc.get("feature_view_version", "")),
                _utc(doc.get("data_watermark")),
            ),
            train_start=_utc_required(doc["train_start"]),
            train_end=_utc_required(doc["train_end"]),
            data_hash=doc.get("data_hash", ""),
            rows=int(doc.get("rows", 0)),
            dates=int(doc.get("dates", 0)),
            num_rounds=int(doc.get("num_rounds", 0)),
            metrics={k: float(v) for k, v in (doc.get("metrics") or {}).items()},
            folds=tuple(
                FoldCard(
                    int(f["index"]),
                    _utc_required(f["train_start"]),
                    _utc_required(f["train_end"]),
                    _utc_required(f["validation_start"]),
                    _utc_required(f["validation_end"]),
                    int(f["best_iteration"]),
                    {k: float(v) for k, v in (f.get("metrics") or {}).items()},
                )
                for f in doc.get("folds", ())
            ),
            warnings=tuple(doc.get("warnings", ())),
            params=dict(doc.get("params") or {}),
            feature_importance={
                k: float(v) for k, v in (doc.get("feature_importance") or {}).items()
            },
            created_at=_utc_required(doc["created_at"]),
        )


class ModelCardStore:
    """CRUD over the model cards collection of a motor database."""

    def __init__(self, database: Any, collection: str = COLLECTION) -> None:
        self._cards = database[collection]

    async def start(self) -> None:
        """Create the indexes (idempotent)."""
        await self._cards.create_index(
            [("model", 1), ("version", 1)], unique=True, name="model_version"
        )

    async def upsert(self, card: ModelCard) -> None:
        """Insert the card, or replace the one of the same (model, version)."""
        check_model_name(card.model)
        if card.version < 1:
            raise InvalidArgument.for_field("version", f"{card.version} is not positive")
        await self._cards.replace_one(
            {"model": card.model, "version": card.version}, card.to_document(), upsert=True
        )

    async def get(self, model: str, version: int) -> ModelCard:
        """The card of one version; NotFound when there is none."""
        doc = await self._cards.find_one({"model": model, "version": version}, {"_id": 0})
        if doc is None:
            raise NotFound(
                f"no model card for {model}/{version}",
                metadata={"model": model, "version": str(version)},
            )
        return ModelCard.from_document(doc)

    async def list(self, model: str | None = None, limit: int = 1000) -> list[ModelCard]:
        """Cards by model name, then newest version first; only `model`'s when given."""
        query = {} if model is None else {"model": model}
        cursor = self._cards.find(query, {"_id": 0}).sort([("model", 1), ("version", -1)])
        return [ModelCard.from_document(doc) async for doc in cursor.limit(limit)]

    async def delete(self, model: str, version: int) -> bool:
        """Remove one card; True when there was one."""
        result = await self._cards.delete_one({"model": model, "version": version})
        return bool(result.deleted_count)


def _now_ms() -> datetime:
    """Now, to the millisecond (what a BSON date holds), so a card reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if math.isfinite(v)}


def _plain(value: Any) -> str | int | float | bool:
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _utc_required(value: datetime) -> datetime:
    result = _utc(value)
    assert result is not None
    return result
