"""References to feature views a model was trained on; model references live in
`services.runtime.model_refs` (shared with every service that has a model registry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.runtime.model_refs import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    ModelRef,
    check_alias,
    check_model_name,
)

__all__ = [
    "ALIASES",
    "CHALLENGER",
    "CHAMPION",
    "FeatureViewRef",
    "ModelRef",
    "check_alias",
    "check_model_name",
]


@dataclass(frozen=True)
class FeatureViewRef:
    """The feature view version a model was trained on, and its data watermark."""

    name: str
    version: str
    watermark: datetime | None = None
