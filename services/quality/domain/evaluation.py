"""Evaluation: known anomalies injected into real bars, and how well the sentinel finds them.

Each kind of anomaly (see `injection`) goes into its own copy of the bars after a history
period, which is never corrupted and on which the pooled Isolation Forest is fitted; the whole
copy is then checked (every rule is causal, so this equals checking it day by day).

A detection is a row whose combined severity is at least HIGH. Per kind, recall is the share of
injections with a detected target row, and precision is detected target rows over detected
target rows plus detected rows outside every injection's affected rows (the clean remainder);
detections on affected non-target rows (echoes) are counted apart and excluded. The unmodified
data is checked too, and its HIGH rows listed with their reasons.
"""

from __future__ import annotations

import itertools
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import TIME_TYPE, Frequency, normalize_bars
from services.quality.domain.checker import CheckOutcome, run_checks
from services.quality.domain.config import (
    FeatureSpace,
    IsolationConfig,
    IsolationMode,
    ModelConfig,
    ProphetConfig,
    RuleConfig,
)
from services.quality.domain.features import Normalized, RawFeatures, normalize, raw_features
from services.quality.domain.findings import Severity
from services.quality.domain.injection import (
    DEFAULT_COUNTS,
    AnomalyKind,
    Injected,
    Injection,
    inject,
)
from services.quality.domain.isolation import fit_isolation
from services.quality.domain.model_checks import isolation_scores
from services.quality.domain.models import ModelCache
from services.quality.domain.panel import Panel, build_panel
from services.quality.domain.rules_integrity import check_integrity
from services.quality.domain.sink import FindingSink, to_datetime
from services.quality.domain.training import fit_pooled, prepare_training


@dataclass(frozen=True)
class KindScore:
    """Detection of one kind of anomaly at severity >= HIGH."""

    kind: AnomalyKind
    injected: int
    detected: int
    true_rows: int
    false_rows: int
    echo_rows: int
    score_auc: float = float("nan")
    """AUC of the combined row score: target rows against the clean remainder."""

    @property
    def recall(self) -> float:
        return self.detected / self.injected if self.injected else float("nan")

    @property
    def precision(self) -> float:
        flagged = self.true_rows + self.false_rows
        return self.true_rows / flagged if flagged else float("nan")


@dataclass(frozen=True)
class CleanFlag:
    """A row of the unmodified data flagged at HIGH or above."""

    symbol: str
    time: datetime
    severity: Severity
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DetectorScore:
    """One Isolation Forest layout's anomaly score as a detector of one kind."""

    layout: str
    kind: AnomalyKind
    recall_at_1pct: float
    auc: float


@dataclass
class Evaluation:
    """Everything one evaluation run measured."""

    symbols: list[str]
    history_end: datetime
    batch_rows: int
    scores: list[KindScore] = field(default_factory=list)
    clean_flags: list[CleanFlag] = field(default_factory=list)
    detectors: list[DetectorScore] = field(default_factory=list)
    isolation_layout: str = ""
    check_seconds: float = 0.0
    injections: dict[AnomalyKind, list[Injection]] = field(default_factory=dict)
    misses: dict[AnomalyKind, list[Injection]] = field(default_factory=dict)

    def recall_by_size(
        self, kind: AnomalyKind, edges: Sequence[float]
    ) -> list[tuple[str, int, float]]:
        """(size range, injected, recall) per bucket of injection size between `edges`."""
        missed = {id(i) for i in self.misses.get(kind, [])}
        rows = []
        for lo, hi in itertools.pairwise(edges):
            bucket = [i for i in self.injections.get(kind, []) if lo <= i.size < hi]
            found = sum(id(i) not in missed for i in bucket)
            rows.append(
                (f"{lo:g}–{hi:g}", len(bucket), found / len(bucket) if bucket else float("nan"))
            )
        return rows


def flagged_rows(bars: pa.Table, severities: np.ndarray) -> set[tuple[str, int]]:
    rows = np.flatnonzero(severities >= int(Severity.HIGH))
    symbols = bars.column("symbol").take(pa.array(rows)).to_pylist()
    times = bars.column("time").cast(pa.int64()).take(pa.array(rows)).to_pylist()
    return set(zip(symbols, times, strict=True))


def score_kind(
    kind: AnomalyKind, injections: Sequence[Injection], flagged: set[tuple[str, int]]
) -> tuple[KindScore, list[Injection]]:
    """Recall and precision of one kind from the flagged (symbol, time) rows; and the misses."""
    targets = {(i.symbol, t) for i in injections for t in i.targets}
    affected = {(i.symbol, t) for i in injections for t in i.affected} | targets
    missed = [i for i in injections if not any((i.symbol, t) in flagged for t in i.targets)]
    return (
        KindScore(
            kind=kind,
            injected=len(injections),
            detected=len(injections) - len(missed),
            true_rows=len(flagged & targets),
            false_rows=len(flagged - affected),
            echo_rows=len((flagged & affected) - targets),
        ),
        missed,
    )


def _score_auc(data: Injected, outcome: CheckOutcome) -> float:
    """AUC of the combined score: each injection's best target row against clean rows."""
    keys = list(
        zip(
            data.bars.column("symbol").to_pylist(),
            data.bars.column("time").cast(pa.int64()).to_pylist(),
            strict=True,
        )
    )
    score = dict(zip(keys, outcome.row_scores.tolist(), strict=True))
    affected = {(i.symbol, t) for i in data.injections for t in (*i.targets, *i.affected)}
    positives = np.array(
        [max(score.get((i.symbol, t), np.nan) for t in i.targets) for i in data.injections]
    )
    negatives = np.array([v for k, v in score.items() if k not in affected])
    return _auc(positives, negatives)


def split_history(bars: pa.Table, sessions: int) -> tuple[pa.Table, pa.Table, datetime]:
    """(history, batch, batch start): the first `sessions` distinct times are history."""
    table = normalize_bars(bars)
    times = np.unique(np.asarray(table.column("time").cast(pa.int64()).to_numpy()))
    cut = to_datetime(int(times[min(sessions, len(times) - 1)]))
    boundary = pa.scalar(cut, TIME_TYPE)
    history = table.filter(pc.less(table.column("time"), boundary))
    batch = table.filter(pc.greater_equal(table.column("time"), boundary))
    return history, batch, cut


def isolation_layouts() -> dict[str, IsolationConfig]:
    """The layouts compared: per-symbol on raw features, per-symbol and pooled on normalised."""
    return {
        "per_symbol/raw": IsolationConfig(mode=IsolationMode.PER_SYMBOL, features=FeatureSpace.RAW),
        "per_symbol/normalized": IsolationConfig(mode=IsolationMode.PER_SYMBOL),
        "pooled/normalized": IsolationConfig(mode=IsolationMode.POOLED),
    }


def fit_layout(history: pa.Table, rules: RuleConfig, config: IsolationConfig) -> ModelCache:
    """A cache holding the Isolation Forest(s) of one layout fitted on `history`."""
    cache = ModelCache()
    prepared = prepare_training(history, Frequency.DAILY, rules, config.features)
    models = ModelConfig(isolation=config, prophet=ProphetConfig(enabled=False))
    if config.mode is IsolationMode.POOLED:
        model = fit_pooled(prepared, models)
        if model is not None:
            cache.put(Frequency.DAILY, model)
    else:
        for s in prepared:
            fitted = fit_isolation(s.symbol, s.features, s.data_end_us, config.features, config)
            if fitted is not None:
                cache.put(Frequency.DAILY, fitted)
    return cache


def batch_features(
    batch: pa.Table, history: pa.Table, rules: RuleConfig | None = None
) -> tuple[Panel, RawFeatures, Normalized]:
    """The panel and features of a daily batch, as the checks see them."""
    rules = rules or RuleConfig()
    sink = FindingSink(batch)
    integrity = check_integrity(batch, sink, 2**62, 0)
    panel = build_panel(batch, integrity.keep, history, integrity.price_ok, integrity.range_ok)
    raw = raw_features(panel, rules, daily=True)
    return panel, raw, normalize(panel, raw, panel.targets, rules)


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting half."""
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    if not len(positive) or not len(negative):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([positive, negative]), kind="stable")) + 1.0
    # Mann-Whitney U from ranks (ties broken by order; fine for continuous scores).
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def compare_layouts(
    history: pa.Table,
    clean: pa.Table,
    datasets: dict[AnomalyKind, Injected],
    rules: RuleConfig,
) -> list[DetectorScore]:
    """Each layout's anomaly score as a detector: recall at 1 % of clean rows flagged, AUC."""
    frames = {kind: batch_features(data.bars, history, rules) for kind, data in datasets.items()}
    clean_frame = batch_features(clean, history, rules)
    results = []
    for name, config in isolation_layouts().items():
        cache = fit_layout(history, rules, config)
        models = ModelConfig(isolation=config)
        panel, raw, norm = clean_frame
        clean_scores, _ = isolation_scores(panel, raw, norm, cache, Frequency.DAILY, models)
        threshold = float(np.nanquantile(clean_scores, 0.99))
        for kind, data in datasets.items():
            panel, raw, norm = frames[kind]
            scores, _ = isolation_scores(panel, raw, norm, cache, Frequency.DAILY, models)
            keys = {
                (s, int(t)): float(v)
                for s, t, v in zip(
                    panel.symbol_of(norm.index), panel.time[norm.index], scores, strict=True
                )
            }
            best = np.array(
                [max(keys.get((i.symbol, t), np.nan) for t in i.targets) for i in data.injections]
            )
            target_keys = {(i.symbol, t) for i in data.injections for t in i.targets}
            target_scores = np.array([v for k, v in keys.items() if k in target_keys])
            results.append(
                DetectorScore(
                    layout=name,
                    kind=kind,
                    recall_at_1pct=float(np.mean(np.nan_to_num(best, nan=-1.0) >= threshold)),
                    auc=_auc(target_scores, clean_scores),
                )
            )
    return results


def evaluate(
    bars: pa.Table,
    *,
    history_sessions: int = 500,
    counts: dict[AnomalyKind, int] | None = None,
    seed: int = 2024,
    rules: RuleConfig | None = None,
    isolation: IsolationConfig | None = None,
    compare: bool = True,
) -> Evaluation:
    """Inject each kind into its own copy of `bars` and measure detection at >= HIGH.

    The first `history_sessions` sessions are history: never corrupted, and the Isolation
    Forest is fitted on them. Prophet is left out (its forecasts cover only the sessions right
    after its fit; see docs/benchmarks.md).
    """
    rules = rules or RuleConfig()
    counts = counts or DEFAULT_COUNTS
    history, clean, start = split_history(bars, history_sessions)
    datasets = {
        kind: inject(clean, kind, after=start, per_symbol=count, seed=seed)
        for kind, count in counts.items()
    }
    layout = isolation or IsolationConfig()
    evaluation = Evaluation(
        symbols=sorted(set(clean.column("symbol").to_pylist())),
        history_end=start,
        batch_rows=clean.num_rows,
        isolation_layout=f"{layout.mode.value}/{layout.features.value}",
    )
    cache = fit_layout(history, rules, layout)
    models = ModelConfig(isolation=layout, prophet=ProphetConfig(enabled=False))
    now = datetime.now(UTC)

    def check(table: pa.Table) -> CheckOutcome:
        began = clock.perf_counter()
        outcome = run_checks(table, history, Frequency.DAILY, rules, cache, models, now)
        evaluation.check_seconds += clock.perf_counter() - began
        return outcome

    evaluation.clean_flags = [
        CleanFlag(a.symbol, a.time, a.severity, tuple(str(r) for r in a.reasons))
        for a in check(clean).assessments
        if a.severity >= Severity.HIGH and a.time is not None
    ]
    for kind, data in datasets.items():
        outcome = check(data.bars)
        score, missed = score_kind(
            kind, data.injections, flagged_rows(data.bars, outcome.row_severities)
        )
        evaluation.scores.append(replace(score, score_auc=_score_auc(data, outcome)))
        evaluation.injections[kind] = data.injections
        evaluation.misses[kind] = missed
    if compare:
        evaluation.detectors = compare_layouts(history, clean, datasets, rules)
    return evaluation
