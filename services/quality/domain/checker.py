"""One pass of every check over a batch: integrity, continuity, outliers, learned models.

Pure computation on plain tables: the batch (any row order) and the prior history of its
symbols. Models are read from the cache as they are; a check never fits one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency, normalize_bars
from services.quality.domain.config import ModelConfig, RuleConfig
from services.quality.domain.features import Normalized, RawFeatures, normalize, raw_features
from services.quality.domain.findings import Finding, RowAssessment, Severity, assess
from services.quality.domain.model_checks import (
    ModelUsage,
    check_isolation,
    check_prophet,
    genuine_moves,
)
from services.quality.domain.models import ModelCache
from services.quality.domain.panel import Panel, build_panel
from services.quality.domain.rules_continuity import check_gaps, check_stale, check_zero_volume
from services.quality.domain.rules_integrity import check_integrity, check_revisions
from services.quality.domain.rules_outliers import (
    check_ranges,
    check_returns,
    check_splits,
    check_volume,
)
from services.quality.domain.sink import FindingSink
from services.runtime.errors import InvalidArgument


@dataclass(frozen=True)
class CheckOutcome:
    """Findings and per-row combination of one batch (rows as given)."""

    findings: list[Finding]
    assessments: list[RowAssessment]
    row_scores: np.ndarray
    row_severities: np.ndarray
    symbols: list[str]
    usage: ModelUsage
    notes: list[str]


def run_checks(
    bars: pa.Table,
    history: pa.Table | None,
    frequency: Frequency,
    rules: RuleConfig,
    models: ModelCache | None,
    model_config: ModelConfig,
    now: datetime,
) -> CheckOutcome:
    """Check `bars` against `history` (earlier bars of the same symbols; may be None)."""
    if bars.num_rows == 0:
        raise InvalidArgument.for_field("bars", "the batch has no rows")
    batch = normalize_bars(bars)
    past = normalize_bars(history) if history is not None and history.num_rows else None
    sink = FindingSink(batch)
    now_us = int(now.timestamp() * 1_000_000)
    integrity = check_integrity(batch, sink, now_us, int(rules.max_future.total_seconds() * 1e6))
    check_revisions(batch, integrity.keep, past, sink)
    usage, symbols, notes = ModelUsage(), [], []
    if integrity.keep.any():
        panel = build_panel(batch, integrity.keep, past, integrity.price_ok, integrity.range_ok)
        symbols = list(panel.symbols)
        raw = raw_features(panel, rules, daily=frequency is Frequency.DAILY)
        norm = normalize(panel, raw, panel.targets, rules)
        notes = _rule_checks(panel, raw, norm, frequency, rules, sink)
        if models is not None:
            usage = _model_checks(panel, raw, norm, frequency, rules, models, model_config, sink)
    return _combined(sink.findings(), batch.num_rows, symbols, usage, notes)


def _rule_checks(
    panel: Panel,
    raw: RawFeatures,
    norm: Normalized,
    frequency: Frequency,
    rules: RuleConfig,
    sink: FindingSink,
) -> list[str]:
    """Every rule over the panel's batch rows; returns notes on what was skipped."""
    notes = []
    if frequency is Frequency.DAILY:
        check_gaps(panel, raw, rules, sink)
    else:
        notes.append("gap rule skipped: minute bars have no fixed session grid")
    check_stale(panel, raw, rules, sink)
    check_zero_volume(panel, rules, sink)
    splits = check_splits(panel, raw, norm, rules, sink)
    check_returns(panel, raw, norm, rules, sink, explained=splits)
    check_ranges(panel, norm, rules, sink)
    check_volume(panel, norm, rules, sink)
    young = norm.history < rules.min_history
    short = sorted({panel.symbols[g] for g in panel.group[norm.index[young]]})
    if short:
        listed = ", ".join(short[:5]) + (", …" if len(short) > 5 else "")
        notes.append(
            f"{len(short)} symbol(s) with fewer than {rules.min_history} earlier bars: "
            f"outlier rules skipped for their first bars ({listed})"
        )
    return notes


def _model_checks(
    panel: Panel,
    raw: RawFeatures,
    norm: Normalized,
    frequency: Frequency,
    rules: RuleConfig,
    models: ModelCache,
    config: ModelConfig,
    sink: FindingSink,
) -> ModelUsage:
    """Findings of the cached models (Prophet for daily bars only)."""
    genuine = genuine_moves(norm, rules)
    isolation_rows = 0
    if config.isolation.enabled:
        isolation_rows = check_isolation(panel, raw, norm, models, frequency, config, genuine, sink)
    if not (config.prophet.enabled and frequency is Frequency.DAILY):
        return ModelUsage(isolation_rows=isolation_rows)
    prophet_rows, forecast = check_prophet(panel, norm, models, frequency, config, genuine, sink)
    return ModelUsage(
        isolation_rows=isolation_rows,
        prophet_rows=prophet_rows,
        without_forecast=tuple(s for g, s in enumerate(panel.symbols) if g not in forecast),
    )


def _combined(
    findings: list[Finding], rows: int, symbols: list[str], usage: ModelUsage, notes: list[str]
) -> CheckOutcome:
    """Each row's findings combined into its assessment and the per-row arrays."""
    by_row: dict[int, list[Finding]] = {}
    for finding in findings:
        by_row.setdefault(finding.row, []).append(finding)
    assessments = [assess(by_row[row]) for row in sorted(by_row)]
    scores = np.zeros(rows)
    severities = np.zeros(rows, dtype=np.int8)
    for item in assessments:
        scores[item.row] = item.score
        severities[item.row] = int(item.severity)
    return CheckOutcome(
        findings=findings,
        assessments=assessments,
        row_scores=scores,
        row_severities=severities,
        symbols=symbols,
        usage=usage,
        notes=notes,
    )


def max_severity(severities: np.ndarray) -> Severity:
    return Severity(int(severities.max())) if len(severities) else Severity.NONE
