"""The outcome of checking one batch: findings, per-row scores, a verdict and the decision.

The verdict says what the sentinel recommends; the decision is what the ingest did with the
batch (recorded with every stored event): CRITICAL batches are quarantined unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.findings import Finding, RowAssessment, Severity
from services.quality.domain.model_checks import ModelUsage


class Verdict(StrEnum):
    PASS = "pass"
    """Nothing at HIGH or above: commit."""
    WARN = "warn"
    """HIGH findings: commit, and tell people (webhooks)."""
    QUARANTINE = "quarantine"
    """CRITICAL findings: hold the batch apart, invisible to features, unless forced."""


class IngestDecision(StrEnum):
    """What happened to the batch, recorded with its events."""

    COMMITTED = "committed"
    QUARANTINED = "quarantined"
    FORCED = "forced"
    """Committed despite a QUARANTINE verdict because the ingest was forced."""
    REJECTED = "rejected"
    """Not stored at all (for example refused by a fail-closed policy or validation)."""
    CHECKED = "checked"
    """Checked on request only; no ingest was involved."""


def verdict_for(severity: Severity) -> Verdict:
    if severity >= Severity.CRITICAL:
        return Verdict.QUARANTINE
    if severity >= Severity.HIGH:
        return Verdict.WARN
    return Verdict.PASS


def decide(verdict: Verdict, force: bool) -> IngestDecision:
    """The ingest decision for a verdict: quarantine CRITICAL batches unless forced."""
    if verdict is Verdict.QUARANTINE:
        return IngestDecision.FORCED if force else IngestDecision.QUARANTINED
    return IngestDecision.COMMITTED


@dataclass(frozen=True, eq=False)
class BatchReport:
    """Everything the checks said about one batch. Per-row arrays follow the batch's row order.

    `assessments` has one entry per row with findings (combined score, severity, reasons);
    `row_severities` holds Severity values (0 = NONE) for every row.
    """

    batch_id: str
    frequency: Frequency
    rows: int
    symbols: tuple[str, ...]
    findings: tuple[Finding, ...]
    assessments: tuple[RowAssessment, ...]
    row_scores: np.ndarray
    row_severities: np.ndarray
    max_severity: Severity
    verdict: Verdict
    models: ModelUsage
    notes: tuple[str, ...]
    checked_at: datetime
    elapsed_s: float

    def severity_counts(self) -> dict[Severity, int]:
        """Rows per combined severity (NONE included)."""
        counts = np.bincount(self.row_severities.astype(np.int64), minlength=len(Severity))
        return {severity: int(counts[severity]) for severity in Severity}

    def at_least(self, severity: Severity) -> list[RowAssessment]:
        return [a for a in self.assessments if a.severity >= severity]

    def summary(self) -> str:
        """One line: rows, symbols, rows per severity, verdict."""
        counts = self.severity_counts()
        found = ", ".join(f"{counts[s]} {s.name}" for s in reversed(Severity) if s and counts[s])
        return (
            f"{self.rows:,} rows of {len(self.symbols)} symbol(s): "
            f"{found or 'no findings'}; verdict {self.verdict.value}"
        )
