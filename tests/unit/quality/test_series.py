"""score_series: any timestamped numeric series, scored point by point against its past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from services.quality.domain.findings import Severity
from services.quality.domain.sentinel import Sentinel
from services.quality.domain.series import MIN_SERIES_POINTS
from services.runtime.errors import InvalidArgument

START = datetime(2024, 5, 1, tzinfo=UTC)


def minutes(n: int) -> list[datetime]:
    return [START + timedelta(minutes=i) for i in range(n)]


@pytest.fixture
def sentinel() -> Sentinel:
    return Sentinel()


def test_a_latency_spike_stands_out_and_normal_points_do_not(sentinel: Sentinel) -> None:
    rng = np.random.default_rng(1)
    latency = 120 + rng.normal(0, 5, 200)
    latency[150] = 400.0
    scores = sentinel.score_series(minutes(200), latency, name="ingest_latency_ms")
    assert scores.anomalies(Severity.HIGH) == [150]
    assert scores.reasons[150].startswith("ingest_latency_ms 400 is +")
    assert scores.severities[150] == Severity.CRITICAL and scores.scores[150] > 0.9
    assert "robust σ from the median" in scores.reasons[150]
    assert (scores.scores[:10] == 0).all() and np.isnan(scores.z[:10]).all()
    quiet = np.delete(np.arange(200), 150)
    assert (scores.scores[quiet] < 0.45).all()
    assert len(scores.times) == len(scores.values) == 200


def test_scores_are_causal(sentinel: Sentinel) -> None:
    """A point's score depends on the points before it only."""
    values = np.sin(np.arange(80) / 5.0) * 10 + 50
    full = sentinel.score_series(minutes(80), values)
    head = sentinel.score_series(minutes(50), values[:50])
    np.testing.assert_array_equal(full.scores[:50], head.scores)


def test_numpy_and_arrow_times_are_accepted(sentinel: Sentinel) -> None:
    stamps = np.array([m.replace(tzinfo=None) for m in minutes(30)], dtype="datetime64[us]")
    values = pa.array(np.linspace(1.0, 2.0, 30))
    assert len(sentinel.score_series(stamps, values).scores) == 30
    arrow_times = pa.array(minutes(30), pa.timestamp("us", tz="UTC"))
    assert len(sentinel.score_series(arrow_times, np.ones(30)).scores) == 30


@pytest.mark.parametrize(
    ("times", "values", "field", "message"),
    [
        ([], [], "times", "empty"),
        (minutes(20), [1.0] * 19, "values", "19 values for 20 times"),
        (minutes(20), [1.0] * 5 + [float("nan")] + [1.0] * 14, "values[5]", "finite"),
        (minutes(20), [1.0] * 7 + [float("inf")] + [1.0] * 12, "values[7]", "finite"),
        (minutes(5) + minutes(5)[4:5] + minutes(20)[5:19], [1.0] * 20, "times[5]", "repeats"),
        (minutes(20)[::-1], [1.0] * 20, "times[1]", "sorted ascending"),
        (minutes(MIN_SERIES_POINTS - 1), [1.0] * (MIN_SERIES_POINTS - 1), "values", "at least 11"),
        ([START, "soon"], [1.0, 2.0], "times[1]", "not a datetime"),
    ],
)
def test_bad_series_are_refused_with_the_field_named(
    sentinel: Sentinel, times: list[object], values: list[float], field: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        sentinel.score_series(times, values)  # type: ignore[arg-type]
    assert caught.value.violations[0].field == field


def test_the_shortest_scoreable_series_scores_its_last_point(sentinel: Sentinel) -> None:
    values = [10.0, 11.0, 10.5, 10.2, 10.8, 10.1, 10.9, 10.4, 10.6, 10.3, 30.0]
    assert len(values) == MIN_SERIES_POINTS
    scores = sentinel.score_series(minutes(len(values)), values)
    assert scores.anomalies() == [10]
