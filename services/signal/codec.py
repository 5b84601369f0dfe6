"""Protobuf <-> domain conversions for the signal service, shared by servicer and client."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from quantmesh.signal.v1 import signal_pb2 as pb

from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import optional_from_timestamp, to_time_range, to_timestamp
from services.signal.domain.requests import TrainRequest
from services.signal.domain.train_config import ModelKind

if TYPE_CHECKING:  # the client imports this module; LightGBM and MLflow stay out of it
    from services.signal.domain.metrics import Metrics
    from services.signal.domain.registry import ModelVersionInfo
    from services.signal.domain.results import TrainingResult
    from services.signal.domain.scoring import ScoringModel

_KIND_TO_PB = {
    ModelKind.CLASSIFIER: pb.OBJECTIVE_CLASSIFIER,
    ModelKind.REGRESSOR: pb.OBJECTIVE_REGRESSOR,
}
_KIND_FROM_PB = {v: k for k, v in _KIND_TO_PB.items()}


def kind_from_pb(value: int) -> ModelKind | None:
    if value == pb.OBJECTIVE_UNSPECIFIED:
        return None
    if value not in _KIND_FROM_PB:
        raise InvalidArgument.for_field("objective", f"unknown objective {value}")
    return _KIND_FROM_PB[value]  # type: ignore[index]


def train_request_from_pb(message: pb.TrainModelRequest) -> TrainRequest:
    return TrainRequest(
        model_name=message.model_name,
        feature_view=message.feature_view or "default",
        feature_version=message.feature_version or None,
        label=message.label or "direction_5",
        objective=kind_from_pb(message.objective),
        symbols=tuple(message.symbols),
        start=optional_from_timestamp(message.time_range, "start"),
        end=optional_from_timestamp(message.time_range, "end"),
        folds=message.folds or 5,
        embargo=message.embargo_bars or None,
        params=dict(message.params),
        alias=message.alias or None,
    )


def train_request_to_pb(request: TrainRequest, request_id: str = "") -> pb.TrainModelRequest:
    message = pb.TrainModelRequest(
        model_name=request.model_name,
        feature_view=request.feature_view,
        feature_version=request.feature_version or "",
        label=request.label,
        objective=_KIND_TO_PB[request.objective] if request.objective else pb.OBJECTIVE_UNSPECIFIED,
        symbols=list(request.symbols),
        time_range=to_time_range(request.start, request.end),
        folds=request.folds,
        embargo_bars=request.embargo or 0,
        params=dict(request.params),
        alias=request.alias or "",
        request_id=request_id,
    )
    return message


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0


def metrics_to_pb(metrics: Metrics) -> pb.Metrics:
    return pb.Metrics(
        ic=_finite(metrics.ic),
        rank_ic=_finite(metrics.rank_ic),
        icir=_finite(metrics.icir),
        hit_rate=_finite(metrics.hit_rate),
        auc=_finite(metrics.auc),
        log_loss=_finite(metrics.log_loss),
        rows=metrics.rows,
        dates=metrics.dates,
    )


def info_to_pb(info: ModelVersionInfo, metrics: Metrics | None = None) -> pb.ModelInfo:
    message = pb.ModelInfo(
        name=info.name,
        version=info.version,
        aliases=list(info.aliases),
        feature_view=info.feature_view.name,
        feature_version=info.feature_view.version,
        label=info.label,
        objective=_KIND_TO_PB[info.kind],
        data_hash=info.data_hash,
        run_id=info.run_id,
        create_time=to_timestamp(info.created_at),
    )
    if info.feature_view.watermark is not None:
        message.data_watermark.CopyFrom(to_timestamp(info.feature_view.watermark))
    start = info.tags.get("quantmesh.train_start")
    end = info.tags.get("quantmesh.train_end")
    if start and end:
        message.training_window.CopyFrom(
            to_time_range(datetime.fromisoformat(start), datetime.fromisoformat(end))
        )
    if metrics is not None:
        message.metrics.CopyFrom(metrics_to_pb(metrics))
    return message


def scoring_model_to_pb(model: ScoringModel) -> pb.ModelInfo:
    """What a score answers about the model that produced it."""
    message = pb.ModelInfo(
        name=model.name,
        version=model.version,
        feature_view=model.feature_view.name,
        feature_version=model.feature_view.version,
        label=model.label,
        objective=_KIND_TO_PB[model.kind],
        features=list(model.feature_names),
    )
    if model.feature_view.watermark is not None:
        message.data_watermark.CopyFrom(to_timestamp(model.feature_view.watermark))
    return message


def report_to_pb(info: ModelVersionInfo, result: TrainingResult) -> pb.TrainingReport:
    model = info_to_pb(info, result.overall)
    model.features.extend(result.model.feature_names)
    model.training_window.CopyFrom(to_time_range(result.window.start, result.window.end))
    return pb.TrainingReport(
        model=model,
        overall=metrics_to_pb(result.overall),
        folds=[
            pb.FoldReport(
                fold=f.index,
                train=to_time_range(f.train_start, f.train_end),
                test=to_time_range(f.validation_start, f.validation_end),
                best_iteration=f.best_iteration,
                metrics=metrics_to_pb(f.metrics),
            )
            for f in result.folds
        ],
        warnings=list(result.warnings),
    )
