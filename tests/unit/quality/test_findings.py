"""Severities, score bands, and how one row's findings combine into one score and severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.quality.domain.findings import (
    FLOOR,
    Check,
    Finding,
    Severity,
    assess,
    band_score,
    capped,
    combine_scores,
    graded,
    severity_of,
)
from services.runtime.errors import InvalidArgument

WHEN = datetime(2020, 3, 2, tzinfo=UTC)


def finding(check: Check, score: float, reason: str = "why") -> Finding:
    return Finding(0, "AAA", WHEN, check, score, severity_of(score), (reason,))


def test_severities_are_ordered_and_parse_by_name() -> None:
    assert Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.parse(" high ") is Severity.HIGH
    with pytest.raises(InvalidArgument, match="unknown severity"):
        Severity.parse("urgent")
    assert Check.parse("Zero_Volume") is Check.ZERO_VOLUME
    with pytest.raises(InvalidArgument) as caught:
        Check.parse("vibes", field="check")
    assert caught.value.violations[0].field == "check"


def test_scores_fall_in_the_band_of_their_severity() -> None:
    for severity in (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL):
        assert severity_of(band_score(severity, 0.0)) is severity
        assert severity_of(band_score(severity, 1.0)) is severity
    assert severity_of(0.1) is Severity.NONE
    assert band_score(Severity.CRITICAL, 1.0) == 1.0


def test_grading_interpolates_inside_bands() -> None:
    levels = (5.0, 6.0, 8.0, 20.0)
    assert graded(4.9, levels) == (Severity.NONE, 0.0)
    assert graded(float("nan"), levels) == (Severity.NONE, 0.0)
    severity, low_high = graded(8.0, levels)
    _, upper_high = graded(19.0, levels)
    assert severity is Severity.HIGH and FLOOR[Severity.HIGH] == low_high < upper_high
    assert graded(25.0, levels)[0] is Severity.CRITICAL
    assert capped(Severity.CRITICAL, 0.95, Severity.LOW) == (
        Severity.LOW,
        band_score(Severity.LOW, 1.0),
    )


def test_a_finding_keeps_its_score_in_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        Finding(0, "AAA", WHEN, Check.GAP, 1.2, Severity.CRITICAL, ())
    with pytest.raises(ValueError, match="severity"):
        Finding(0, "AAA", WHEN, Check.GAP, 0.1, Severity.NONE, ())


def test_independent_evidence_raises_the_combined_score() -> None:
    price = finding(Check.PRICE_OUTLIER, 0.6)
    model = finding(Check.ISOLATION_FOREST, 0.6)
    alone = combine_scores([price])
    together = combine_scores([price, model])
    assert alone == pytest.approx(0.6)
    assert together == pytest.approx(1 - 0.4 * (1 - 0.5 * 0.6))
    assert severity_of(together) is Severity.HIGH


def test_views_of_the_same_evidence_do_not_pile_up() -> None:
    """The price outlier and the Prophet close residual look at the same jump: max counts."""
    price = finding(Check.PRICE_OUTLIER, 0.6)
    prophet = finding(Check.PROPHET_CLOSE, 0.55)
    assert combine_scores([price, prophet]) == pytest.approx(0.6)


def test_an_assessment_keeps_every_reason_strongest_first() -> None:
    row = assess(
        [
            finding(Check.VOLUME_OUTLIER, 0.3, "volume x9"),
            finding(Check.GAP, 0.75, "2 sessions missing"),
        ]
    )
    assert row.check is Check.GAP
    assert row.checks == (Check.GAP, Check.VOLUME_OUTLIER)
    assert [str(r) for r in row.reasons] == ["gap: 2 sessions missing", "volume_outlier: volume x9"]
    assert row.reasons[0].severity is Severity.HIGH and row.reasons[1].score == 0.3
    assert row.severity is Severity.HIGH and 0.75 < row.score <= 1.0
