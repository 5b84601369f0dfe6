"""Out-of-sample metrics of a signal, and the leak warning of DESIGN §8.

- IC: per date, the cross-sectional Pearson correlation between score and forward return over
  the symbols of that date (dates with fewer than `min_names` symbols or no spread are skipped),
  averaged over dates. Rank IC: the same with Spearman (average ranks for ties).
- ICIR: mean / standard deviation (ddof 1) of the daily ICs, per bar, *not* annualized (multiply
  by sqrt(252) for daily bars if you want the annual figure). Rank ICIR likewise.
- Hit rate: the share of rows whose predicted direction (score above 0.5 for probabilities, above
  0 for return forecasts) agrees with the realized one (forward return > 0), pooled over rows.
  Balanced hit rate: the mean of the hit rates on up rows and on down rows, so 0.5 for any
  predictor without skill whatever the market's drift (always "up" scores the up share `up_rate`
  as plain hit rate, but 0.5 balanced).
- AUC: ranking of score against the realized direction (both model kinds); log loss for
  probabilities only. None where undefined (one class, too few rows).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from services.runtime.errors import InvalidArgument

MAX_HIT_RATE = 0.60
MAX_ABS_IC = 0.15


@dataclass(frozen=True)
class Metrics:
    """Out-of-sample metrics of one fold or of all folds together."""

    rows: int
    dates: int  # dates that had a cross-section for IC
    ic: float | None
    ic_std: float | None
    icir: float | None
    rank_ic: float | None
    rank_icir: float | None
    hit_rate: float | None
    balanced_hit_rate: float | None
    up_rate: float | None  # share of rows whose forward return is positive
    auc: float | None
    log_loss: float | None

    def as_dict(self) -> dict[str, float]:
        """The defined metrics by name (None dropped), counts as floats."""
        return {k: float(v) for k, v in asdict(self).items() if v is not None}


def daily_ic(
    times: np.ndarray,
    score: np.ndarray,
    target: np.ndarray,
    *,
    rank: bool = False,
    min_names: int = 3,
) -> np.ndarray:
    """The per-date correlation of score and target (Spearman when `rank`), oldest date first.

    Dates with fewer than `min_names` rows or a constant score or target are left out.
    """
    times, score, target = _clean(times, score, target)
    if len(times) == 0:
        return np.empty(0)
    _, codes = np.unique(times, return_inverse=True)
    if rank:
        score = pd.Series(score).groupby(codes).rank(method="average").to_numpy(np.float64)
        target = pd.Series(target).groupby(codes).rank(method="average").to_numpy(np.float64)
    n = np.bincount(codes).astype(np.float64)
    mean_x = np.bincount(codes, score) / n
    mean_y = np.bincount(codes, target) / n
    dx = score - mean_x[codes]
    dy = target - mean_y[codes]
    cov = np.bincount(codes, dx * dy)
    var_x = np.bincount(codes, dx * dx)
    var_y = np.bincount(codes, dy * dy)
    # A constant column leaves rounding noise in its variance: require a real spread.
    usable = (
        (n >= min_names)
        & (var_x > n * (1e-12 * np.maximum(1.0, np.abs(mean_x))) ** 2)
        & (var_y > n * (1e-12 * np.maximum(1.0, np.abs(mean_y))) ** 2)
    )
    ic: np.ndarray = np.clip(cov[usable] / np.sqrt(var_x[usable] * var_y[usable]), -1.0, 1.0)
    return ic


def evaluate(
    times: np.ndarray,
    score: np.ndarray,
    forward_return: np.ndarray,
    *,
    probability: bool,
    min_names: int = 3,
) -> Metrics:
    """The metrics of `score` (probabilities of an up move when `probability`, else forecast
    returns) against the realized forward returns, rows given by their time (int64 or datetime)."""
    times, score, forward_return = _clean(times, score, forward_return)
    ics = daily_ic(times, score, forward_return, min_names=min_names)
    rank_ics = daily_ic(times, score, forward_return, rank=True, min_names=min_names)
    up = forward_return > 0.0
    predicted_up = score > (0.5 if probability else 0.0)
    return Metrics(
        rows=len(score),
        dates=len(ics),
        ic=_mean(ics),
        ic_std=_std(ics),
        icir=_ratio(ics),
        rank_ic=_mean(rank_ics),
        rank_icir=_ratio(rank_ics),
        hit_rate=float(np.mean(predicted_up == up)) if len(score) else None,
        balanced_hit_rate=_balanced(up, predicted_up),
        up_rate=float(np.mean(up)) if len(score) else None,
        auc=_auc(up, score),
        log_loss=_log_loss(up, score) if probability else None,
    )


def leak_warnings(
    metrics: Metrics, *, max_hit_rate: float = MAX_HIT_RATE, max_abs_ic: float = MAX_ABS_IC
) -> list[str]:
    """Warnings when out-of-sample results are too good to be true on liquid stocks (§8).

    A hit rate beyond `max_hit_rate` (or below 1 - it) or an |IC| above `max_abs_ic` points to
    look-ahead (a label or future data among the features), not to a great model. The hit rate
    tested is the balanced one, so drift cannot trip it: with 60% of 20-day returns up, always
    predicting "up" has a plain hit rate of 60% and no skill. On daily labels the two differ by
    a point or two.
    """
    warnings = []
    hit = metrics.balanced_hit_rate
    if hit is not None and abs(hit - 0.5) > max_hit_rate - 0.5:
        warnings.append(
            f"possible leak: out-of-sample hit rate {hit:.1%} (balanced; plain "
            f"{metrics.hit_rate:.1%}) is beyond {max_hit_rate:.0%}; check the features for "
            "look-ahead before trusting the model"
        )
    if metrics.ic is not None and abs(metrics.ic) > max_abs_ic:
        warnings.append(
            f"possible leak: out-of-sample IC {metrics.ic:.3f} exceeds {max_abs_ic} in "
            "magnitude; check the features for look-ahead before trusting the model"
        )
    return warnings


def _clean(
    times: np.ndarray, score: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = np.asarray(times)
    score = np.asarray(score, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if not len(times) == len(score) == len(target):
        raise InvalidArgument(
            f"times, score and target differ in length ({len(times)}, {len(score)}, {len(target)})"
        )
    keep = np.isfinite(score) & np.isfinite(target)
    return times[keep], score[keep], target[keep]


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _std(values: np.ndarray) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


def _ratio(values: np.ndarray) -> float | None:
    std = _std(values)
    if std is None or std == 0.0 or not math.isfinite(std):
        return None
    return float(np.mean(values)) / std


def _balanced(up: np.ndarray, predicted_up: np.ndarray) -> float | None:
    rates = [
        float(np.mean(predicted_up[up == side] == side))
        for side in (True, False)
        if np.any(up == side)
    ]
    return float(np.mean(rates)) if rates else None


def _auc(up: np.ndarray, score: np.ndarray) -> float | None:
    positives = int(up.sum())
    if positives == 0 or positives == len(up):
        return None
    ranks = pd.Series(score).rank(method="average").to_numpy(np.float64)
    negatives = len(up) - positives
    # Mann-Whitney U: the probability that a random up row scores above a random down row.
    return float((ranks[up].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _log_loss(up: np.ndarray, probability: np.ndarray) -> float | None:
    if len(up) == 0:
        return None
    p = np.clip(probability, 1e-15, 1.0 - 1e-15)
    return float(-np.mean(np.where(up, np.log(p), np.log1p(-p))))
