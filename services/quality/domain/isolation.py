"""Isolation Forest scores over the bar features (return, gap, range, volume).

Two layouts: one forest per symbol, or one forest pooled over every symbol's rows, which only
makes sense on per-symbol normalised features (each symbol's trailing robust z-scores). A fitted
model keeps its alert level (a high quantile of its training rows' anomaly scores) and the
training maximum, so a bar's anomaly score reads as "beyond what this model saw in training".
The fit is a plain function of numpy arrays, so it runs in a thread or a process pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from services.quality.domain.config import FeatureSpace, IsolationConfig, Levels

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

POOLED_KEY = "*"
FEATURE_NAMES = ("return", "gap", "range", "volume")


@dataclass(frozen=True)
class IsolationModel:
    """A fitted forest and its calibration. `key` is the symbol, or POOLED_KEY."""

    key: str
    features: FeatureSpace
    forest: IsolationForest  # sklearn is imported when a forest is fitted, not on import
    alert_level: float
    top_level: float
    center: np.ndarray
    scale: np.ndarray
    rows: int
    data_end_us: int
    fitted_at: datetime
    symbols: tuple[str, ...] = ()
    """The symbols a pooled forest learned from (its own symbol for a per-symbol one)."""

    def anomaly(self, x: np.ndarray) -> np.ndarray:
        """Anomaly scores in (0, 1) (higher: easier to isolate); NaN for rows with NaN."""
        scores = np.full(len(x), np.nan)
        ok = np.isfinite(x).all(axis=1)
        if ok.any():
            scores[ok] = -self.forest.score_samples(x[ok])
        return scores

    def levels(self) -> Levels:
        """LOW from the alert level, MEDIUM from the training maximum."""
        top = max(self.top_level, self.alert_level + 0.01)
        return (self.alert_level, top, 2 * top - self.alert_level, 1e9)

    def most_unusual(self, row: np.ndarray) -> tuple[str, float]:
        """The feature furthest from the training median, in training sigmas."""
        z = (row - self.center) / self.scale
        worst = int(np.nanargmax(np.abs(z)))
        return FEATURE_NAMES[worst], float(z[worst])


def fit_isolation(
    key: str,
    x: np.ndarray,
    data_end_us: int,
    features: FeatureSpace,
    config: IsolationConfig,
) -> IsolationModel | None:
    """Fit on the finite rows of `x` (rows x 4); None with fewer than `config.min_rows`."""
    rows = x[np.isfinite(x).all(axis=1)]
    if len(rows) < config.min_rows:
        return None
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=config.trees,
        max_samples=min(config.max_samples, len(rows)),
        random_state=config.seed,
    )
    forest.fit(rows)
    train = -forest.score_samples(rows)
    q25, center, q75 = np.quantile(rows, [0.25, 0.5, 0.75], axis=0)
    return IsolationModel(
        key=key,
        features=features,
        forest=forest,
        alert_level=float(np.quantile(train, config.alert_quantile)),
        top_level=float(train.max()),
        center=center,
        scale=np.maximum((q75 - q25) / 1.349, 1e-9),
        rows=len(rows),
        data_end_us=data_end_us,
        fitted_at=datetime.now(UTC),
        symbols=() if key == POOLED_KEY else (key,),
    )
