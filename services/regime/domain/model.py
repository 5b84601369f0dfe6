"""Regime models: fitting on daily closes, and causal classification with hysteresis.

A model standardizes the regime features with its training window's mean and deviation,
anchors one hidden state per regime at that regime's prototype quantiles, and fits covariances
and transitions by Baum-Welch. Classification runs the forward filter (probabilities at t use
bars up to t) and labels with hysteresis: the label moves to another regime only when that
regime's filtered probability exceeds `switch_probability`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.regime.domain import hmm
from services.regime.domain.features import FEATURE_VERSION, WARMUP_BARS, regime_features
from services.regime.domain.regimes import PROTOTYPE_QUANTILES, REGIMES
from services.runtime.errors import FailedPrecondition, InvalidArgument

DEFAULT_SWITCH_PROBABILITY = 0.8
#: Training sessions a fit needs after warm-up (about two years).
MIN_TRAINING_SESSIONS = 500


@dataclass(frozen=True)
class DailySeries:
    """One symbol's daily closes, oldest first; times are UTC datetimes."""

    symbol: str
    times: tuple[datetime, ...]
    closes: NDArray[np.float64]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.closes):
            raise ValueError("times and closes differ in length")


@dataclass(frozen=True)
class FitSettings:
    switch_probability: float = DEFAULT_SWITCH_PROBABILITY
    stickiness: float = 50.0
    ridge: float = 0.1

    def __post_init__(self) -> None:
        if not 0.5 <= self.switch_probability < 1.0:
            raise InvalidArgument.for_field(
                "switch_probability", f"{self.switch_probability} is not in [0.5, 1)"
            )


@dataclass(frozen=True)
class FittedRegimes:
    """What a fit produces: everything of a model version but its name and number."""

    symbols: tuple[str, ...]
    train_start: datetime
    train_end: datetime
    center: NDArray[np.float64]
    scale: NDArray[np.float64]
    params: hmm.HmmParams
    switch_probability: float
    log_likelihood: float
    median_duration: float
    shares: dict[str, float]
    data_hash: str
    feature_version: str = FEATURE_VERSION
    warmup_bars: int = WARMUP_BARS


@dataclass(frozen=True)
class RegimeModel:
    """A recorded model version."""

    name: str
    version: int
    fit: FittedRegimes
    fitted_at: datetime
    data_watermark: datetime | None
    aliases: tuple[str, ...] = field(default=())

    @property
    def feature_version(self) -> str:
        return self.fit.feature_version

    def to_json(self) -> str:
        f = self.fit
        return json.dumps(
            {
                "symbols": list(f.symbols),
                "train_start": f.train_start.isoformat(),
                "train_end": f.train_end.isoformat(),
                "center": f.center.tolist(),
                "scale": f.scale.tolist(),
                "means": f.params.means.tolist(),
                "covariances": f.params.covariances.tolist(),
                "transition": f.params.transition.tolist(),
                "initial": f.params.initial.tolist(),
                "switch_probability": f.switch_probability,
                "log_likelihood": f.log_likelihood,
                "median_duration": f.median_duration,
                "shares": f.shares,
                "data_hash": f.data_hash,
                "feature_version": f.feature_version,
                "warmup_bars": f.warmup_bars,
            }
        )

    @staticmethod
    def fit_from_json(text: str) -> FittedRegimes:
        d: dict[str, Any] = json.loads(text)
        return FittedRegimes(
            symbols=tuple(d["symbols"]),
            train_start=datetime.fromisoformat(d["train_start"]),
            train_end=datetime.fromisoformat(d["train_end"]),
            center=np.array(d["center"]),
            scale=np.array(d["scale"]),
            params=hmm.HmmParams(
                means=np.array(d["means"]),
                covariances=np.array(d["covariances"]),
                transition=np.array(d["transition"]),
                initial=np.array(d["initial"]),
            ),
            switch_probability=float(d["switch_probability"]),
            log_likelihood=float(d["log_likelihood"]),
            median_duration=float(d["median_duration"]),
            shares={k: float(v) for k, v in d["shares"].items()},
            data_hash=d["data_hash"],
            feature_version=d["feature_version"],
            warmup_bars=int(d["warmup_bars"]),
        )


@dataclass(frozen=True)
class Classified:
    """Regimes of one symbol: per bar, probabilities (NaN in warm-up) and label (0 in warm-up)."""

    symbol: str
    times: tuple[datetime, ...]
    probabilities: NDArray[np.float64]  # (T, 4), columns in REGIMES order
    labels: NDArray[np.int64]  # (T,), Regime values; 0 before the first classifiable bar


def data_fingerprint(series: Sequence[DailySeries]) -> str:
    """Hash of the exact closes and times a fit used."""
    digest = hashlib.sha256()
    for s in sorted(series, key=lambda s: s.symbol):
        digest.update(s.symbol.encode())
        digest.update(np.asarray([t.timestamp() for t in s.times]).tobytes())
        digest.update(np.ascontiguousarray(s.closes, dtype=np.float64).tobytes())
    return base64.b32encode(digest.digest()[:10]).decode().lower()


def _in_window(
    times: Sequence[datetime], start: datetime | None, end: datetime | None
) -> NDArray[np.bool_]:
    stamps = np.array([t.timestamp() for t in times])
    keep = np.ones(len(times), dtype=bool)
    if start is not None:
        keep &= stamps >= start.timestamp()
    if end is not None:
        keep &= stamps <= end.timestamp()
    return keep


def fit_regimes(
    series: Sequence[DailySeries],
    start: datetime | None,
    end: datetime | None,
    settings: FitSettings | None = None,
) -> FittedRegimes:
    """Fit a model on the sessions of `series` inside [start, end] (after each one's warm-up).

    Features use the bars before `start` as warm-up, never bars after `end`.
    """
    settings = settings or FitSettings()
    blocks: list[NDArray[np.float64]] = []
    window_times: list[datetime] = []
    for s in series:
        upto = _in_window(s.times, None, end)
        feats = regime_features(s.closes[upto])
        keep = _in_window(s.times, start, end)[upto] & ~np.isnan(feats).any(axis=1)
        if keep.sum() == 0:
            continue
        blocks.append(feats[keep])
        window_times.extend(t for t, k in zip(s.times, keep, strict=False) if k)
    sessions = sum(len(b) for b in blocks)
    if sessions < MIN_TRAINING_SESSIONS:
        raise FailedPrecondition(
            f"the training window holds {sessions} classifiable sessions after the "
            f"{WARMUP_BARS}-bar warm-up; a fit needs at least {MIN_TRAINING_SESSIONS}",
            reason="NOT_ENOUGH_DATA",
            metadata={"sessions": str(sessions), "needed": str(MIN_TRAINING_SESSIONS)},
        )
    pooled = np.concatenate(blocks)
    center, scale = pooled.mean(axis=0), pooled.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    standardized = [(b - center) / scale for b in blocks]
    z = (pooled - center) / scale
    means = np.array(
        [[np.quantile(z[:, j], PROTOTYPE_QUANTILES[r][j]) for j in range(3)] for r in REGIMES]
    )
    params, log_likelihood = hmm.fit_anchored(
        standardized, means, stickiness=settings.stickiness, ridge=settings.ridge
    )
    labels = [
        _hysteresis(
            hmm.forward_filter(params, hmm.log_emissions(params, b)), settings.switch_probability
        )
        for b in standardized
    ]
    runs = np.concatenate([run_lengths(lab) for lab in labels])
    flat = np.concatenate(labels)
    shares = {r.name: float(np.mean(flat == i)) for i, r in enumerate(REGIMES)}
    return FittedRegimes(
        symbols=tuple(sorted(s.symbol for s in series)),
        train_start=min(window_times),
        train_end=max(window_times),
        center=center,
        scale=scale,
        params=params,
        switch_probability=settings.switch_probability,
        log_likelihood=float(log_likelihood),
        median_duration=float(np.median(runs)),
        shares=shares,
        data_hash=data_fingerprint(series),
    )


def run_lengths(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Lengths of the uninterrupted spells of equal labels."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(np.diff(labels)) + 1
    edges = np.concatenate([[0], change, [len(labels)]])
    return np.diff(edges).astype(np.int64)


def _hysteresis(probabilities: NDArray[np.float64], switch: float) -> NDArray[np.int64]:
    """State indices (0-based) with hysteresis, for (T, K) or (S, T, K) probabilities.

    Rows of NaN (warm-up, padding) keep the label -1 and do not move the current one.
    """
    single = probabilities.ndim == 2
    p = probabilities[None] if single else probabilities
    valid = ~np.isnan(p[:, :, 0])
    filled = np.where(valid[:, :, None], p, -1.0)
    best = filled.argmax(axis=2)
    best_p = filled.max(axis=2)
    out = np.full(best.shape, -1, dtype=np.int64)
    for row in range(p.shape[0]):
        # The label depends on its own past: a plain loop over Python ints is the fast way.
        current = -1
        labels = out[row]
        for t, (ok, k, pk) in enumerate(
            zip(valid[row].tolist(), best[row].tolist(), best_p[row].tolist(), strict=True)
        ):
            if not ok:
                continue
            if current < 0 or (k != current and pk > switch):
                current = k
            labels[t] = current
    return out[0] if single else out


def classify_series(model: FittedRegimes, series: Sequence[DailySeries]) -> list[Classified]:
    """Causal regimes of every bar of every series, in one vectorized pass."""
    if not series:
        return []
    length = max(len(s.closes) for s in series)
    z = np.full((len(series), length, 3), np.nan)
    for i, s in enumerate(series):
        z[i, : len(s.closes)] = (regime_features(s.closes) - model.center) / model.scale
    log_b = hmm.log_emissions(model.params, np.nan_to_num(z))
    log_b[np.isnan(z).any(axis=2)] = np.nan
    probabilities = hmm.forward_filter(model.params, log_b)
    probabilities[np.isnan(z).any(axis=2)] = np.nan
    states = _hysteresis(probabilities, model.switch_probability)
    regime_values = np.array([r.value for r in REGIMES], dtype=np.int64)
    out = []
    for i, s in enumerate(series):
        n = len(s.closes)
        st = states[i, :n]
        labels = np.where(st >= 0, regime_values[np.maximum(st, 0)], 0)
        out.append(Classified(s.symbol, s.times, probabilities[i, :n], labels))
    return out
