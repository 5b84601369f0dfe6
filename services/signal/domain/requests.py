"""Requests to the signal domain that clients build too: light to import (no LightGBM)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.signal.domain.train_config import ModelKind


@dataclass(frozen=True)
class TrainRequest:
    model_name: str
    feature_view: str = "default"
    feature_version: str | None = None
    label: str = "direction_5"
    objective: ModelKind | None = None
    symbols: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    folds: int = 5
    embargo: int | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    alias: str | None = None
