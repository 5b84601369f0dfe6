"""Hand-made batch reports for the event store and webhook tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.findings import Check, Reason, RowAssessment, Severity, band_score
from services.quality.domain.model_checks import ModelUsage
from services.quality.domain.report import BatchReport, verdict_for

DAY = datetime(2021, 6, 1, tzinfo=UTC)


def assessment(
    row: int,
    symbol: str,
    severity: Severity,
    checks: tuple[Check, ...] = (Check.GAP,),
    day: int = 0,
) -> RowAssessment:
    return RowAssessment(
        row=row,
        symbol=symbol,
        time=DAY + timedelta(days=day),
        score=band_score(severity, 0.5),
        severity=severity,
        checks=checks,
        reasons=tuple(
            Reason(c, band_score(severity, 0.5), severity, f"reason {row}") for c in checks
        ),
    )


def report(*rows: RowAssessment, batch_id: str | None = None, size: int = 10) -> BatchReport:
    severities = np.zeros(size, dtype=np.int8)
    scores = np.zeros(size)
    for a in rows:
        severities[a.row] = int(a.severity)
        scores[a.row] = a.score
    worst = Severity(int(severities.max()))
    return BatchReport(
        batch_id=batch_id or uuid.uuid4().hex,
        frequency=Frequency.DAILY,
        rows=size,
        symbols=tuple(sorted({a.symbol for a in rows})),
        findings=(),
        assessments=tuple(rows),
        row_scores=scores,
        row_severities=severities,
        max_severity=worst,
        verdict=verdict_for(worst),
        models=ModelUsage(),
        notes=(),
        checked_at=DAY,
        elapsed_s=0.01,
    )
