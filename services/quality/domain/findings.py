"""Findings: what one check says about one bar, and how a row's findings combine.

Every finding carries a score in [0, 1] and the severity band that score falls in:

    LOW [0.20, 0.45)   MEDIUM [0.45, 0.70)   HIGH [0.70, 0.90)   CRITICAL [0.90, 1.00]

A row's findings combine into one score: the strongest finding of each check family (integrity,
continuity, price, volume, model) counts, the strongest family in full and every other family
at half weight (noisy-OR). Independent evidence thus raises the score, while several views of
the same evidence (a price outlier and the Prophet close residual on the same jump) do not pile
up. The row's severity is the band of that combined score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

import numpy as np

from services.runtime.errors import InvalidArgument


class Severity(IntEnum):
    """Ordered severities; NONE marks a row without findings and is never a finding's."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str, field: str = "severity") -> Severity:
        """The severity named `text` (case-insensitive), else InvalidArgument on `field`."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name for s in cls)
            raise InvalidArgument.for_field(field, f"unknown severity {text!r} ({names})") from None


class Check(StrEnum):
    """The check that produced a finding; the value is its stable wire name."""

    SCHEMA = "schema"
    OHLC = "ohlc"
    DUPLICATE = "duplicate"
    GAP = "gap"
    STALE = "stale"
    ZERO_VOLUME = "zero_volume"
    SPLIT_JUMP = "split_jump"
    PRICE_OUTLIER = "price_outlier"
    VOLUME_OUTLIER = "volume_outlier"
    ISOLATION_FOREST = "isolation_forest"
    PROPHET_CLOSE = "prophet_close"
    PROPHET_VOLUME = "prophet_volume"
    SERIES_OUTLIER = "series_outlier"

    @classmethod
    def parse(cls, text: str, field: str = "check") -> Check:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(c.value for c in cls)
            raise InvalidArgument.for_field(field, f"unknown check {text!r} ({names})") from None


#: Checks that look at the same evidence; only the strongest of a family counts in full.
FAMILY: dict[Check, str] = {
    Check.SCHEMA: "integrity",
    Check.OHLC: "integrity",
    Check.DUPLICATE: "integrity",
    Check.GAP: "continuity",
    Check.STALE: "continuity",
    Check.ZERO_VOLUME: "continuity",
    Check.SPLIT_JUMP: "price",
    Check.PRICE_OUTLIER: "price",
    Check.PROPHET_CLOSE: "price",
    Check.VOLUME_OUTLIER: "volume",
    Check.PROPHET_VOLUME: "volume",
    Check.ISOLATION_FOREST: "model",
    Check.SERIES_OUTLIER: "series",
}

#: Lowest score of each severity band.
FLOOR: dict[Severity, float] = {
    Severity.LOW: 0.20,
    Severity.MEDIUM: 0.45,
    Severity.HIGH: 0.70,
    Severity.CRITICAL: 0.90,
}
CORROBORATION_WEIGHT = 0.5


def severity_of(score: float) -> Severity:
    """The band `score` falls in (NONE below the LOW floor)."""
    for severity in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW):
        if score >= FLOOR[severity]:
            return severity
    return Severity.NONE


def band_score(severity: Severity, strength: float) -> float:
    """A score inside `severity`'s band: its floor at strength 0, just below the next at 1."""
    if severity is Severity.NONE:
        raise ValueError("NONE has no band")
    floor = FLOOR[severity]
    ceiling = FLOOR[Severity(severity + 1)] - 1e-3 if severity < Severity.CRITICAL else 1.0
    return floor + float(np.clip(strength, 0.0, 1.0)) * (ceiling - floor)


def graded(value: float, thresholds: Sequence[float]) -> tuple[Severity, float]:
    """Severity and score of `value` against ascending LOW, MEDIUM, HIGH, CRITICAL thresholds.

    The score rises linearly inside each band, reaching the band's top at the next threshold
    (CRITICAL's top at twice its threshold). Below the LOW threshold: (NONE, 0.0).
    """
    if len(thresholds) != 4:
        raise ValueError("need four thresholds")
    if not value >= thresholds[0]:  # also false for NaN
        return Severity.NONE, 0.0
    for index in range(3, -1, -1):
        lower = thresholds[index]
        if value >= lower:
            upper = thresholds[index + 1] if index < 3 else 2 * lower
            severity = Severity(index + 1)
            return severity, band_score(severity, (value - lower) / max(upper - lower, 1e-12))
    raise AssertionError("unreachable")


def capped(severity: Severity, score: float, cap: Severity) -> tuple[Severity, float]:
    """(severity, score) lowered to at most the top of `cap`'s band."""
    if severity <= cap:
        return severity, score
    return cap, band_score(cap, 1.0)


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict on one bar: `row` indexes the batch as given; `time` is UTC."""

    row: int
    symbol: str
    time: datetime | None
    check: Check
    score: float
    severity: Severity
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score} is outside [0, 1]")
        if self.severity is Severity.NONE:
            raise ValueError("a finding has a severity")


@dataclass(frozen=True, slots=True)
class Reason:
    """One check's contribution to a row: its own score and severity, and what it saw."""

    check: Check
    score: float
    severity: Severity
    detail: str

    def __str__(self) -> str:
        return f"{self.check.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class RowAssessment:
    """One row's findings combined: one score, its severity, every contributing reason.

    `checks` lists the contributing checks strongest first; `checks[0]` is the primary check.
    `reasons` holds every finding's reasons in the same order.
    """

    row: int
    symbol: str
    time: datetime | None
    score: float
    severity: Severity
    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...]

    @property
    def check(self) -> Check:
        return self.checks[0]


def combine_scores(findings: Sequence[Finding]) -> float:
    """The combined score of one row's findings (0.0 when there are none)."""
    best: dict[str, float] = {}
    for finding in findings:
        family = FAMILY[finding.check]
        best[family] = max(best.get(family, 0.0), finding.score)
    if not best:
        return 0.0
    ordered = sorted(best.values(), reverse=True)
    remaining = 1.0 - ordered[0]
    for score in ordered[1:]:
        remaining *= 1.0 - CORROBORATION_WEIGHT * score
    return float(min(1.0, max(0.0, 1.0 - remaining)))


def assess(findings: Sequence[Finding]) -> RowAssessment:
    """Combine the findings of one row (all with the same `row`) into its assessment."""
    if not findings:
        raise ValueError("nothing to assess")
    ordered = sorted(findings, key=lambda f: (-f.score, f.check.value))
    score = combine_scores(ordered)
    checks = tuple(dict.fromkeys(f.check for f in ordered))
    reasons = tuple(
        Reason(f.check, f.score, f.severity, detail) for f in ordered for detail in f.reasons
    )
    first = ordered[0]
    return RowAssessment(
        row=first.row,
        symbol=first.symbol,
        time=first.time,
        score=score,
        severity=max(severity_of(score), max(f.severity for f in ordered)),
        checks=checks,
        reasons=reasons,
    )
