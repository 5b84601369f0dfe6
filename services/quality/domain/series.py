"""Scoring any timestamped numeric series (prices, operational metrics) point by point.

Each point is compared with the points before it (at most `window`, at least `min_history`):
its robust z-score against their median and spread (see `robust`) is graded into a severity and
a score in [0, 1]. The first `min_history` points only serve as history and score 0, so a series
needs at least MIN_SERIES_POINTS = 11 points with the default `min_history` of 10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import numpy as np
import pyarrow as pa

from services.quality.domain.config import Levels
from services.quality.domain.findings import Severity, graded
from services.quality.domain.robust import trailing
from services.quality.domain.sink import to_datetime
from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import ensure_utc

DEFAULT_WINDOW = 60
DEFAULT_MIN_HISTORY = 10
MIN_SERIES_POINTS = DEFAULT_MIN_HISTORY + 1
SERIES_LEVELS: Levels = (4.0, 6.0, 9.0, 15.0)

Times: TypeAlias = Sequence[datetime] | np.ndarray | pa.Array | pa.ChunkedArray
Values: TypeAlias = Sequence[float] | np.ndarray | pa.Array | pa.ChunkedArray


@dataclass(frozen=True, eq=False)
class SeriesScores:
    """Per point: score in [0, 1], severity (0 = NONE), robust z, the baseline and a reason."""

    times: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    severities: np.ndarray
    z: np.ndarray
    baseline: np.ndarray
    reasons: tuple[str, ...]
    warmup: int

    def anomalies(self, at_least: Severity = Severity.LOW) -> list[int]:
        """Indices of the points at or above `at_least`."""
        return [int(i) for i in np.flatnonzero(self.severities >= int(at_least))]


def _micros(times: Times) -> np.ndarray:
    if isinstance(times, pa.Array | pa.ChunkedArray):
        if times.null_count:
            raise InvalidArgument.for_field("times", "contains a missing time")
        return np.asarray(times.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy())
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        if np.isnat(times).any():
            raise InvalidArgument.for_field("times", "contains a missing time (NaT)")
        return np.asarray(times.astype("datetime64[us]").astype(np.int64))
    result = np.empty(len(times), dtype=np.int64)
    moment: object
    for i, moment in enumerate(times):
        if not isinstance(moment, datetime):
            raise InvalidArgument.for_field(f"times[{i}]", f"is {moment!r}, not a datetime")
        result[i] = round(ensure_utc(moment).timestamp() * 1_000_000)
    return result


def _floats(values: Values) -> np.ndarray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        values = values.cast(pa.float64()).fill_null(np.nan).to_numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument.for_field("values", "must all be numbers") from None


def validate_series(
    times: Times, values: Values, min_history: int
) -> tuple[np.ndarray, np.ndarray]:
    """(microsecond times, float values) or InvalidArgument naming the bad field."""
    micros, numbers = _micros(times), _floats(values)
    if len(micros) == 0:
        raise InvalidArgument.for_field("times", "the series is empty")
    if numbers.ndim != 1 or len(numbers) != len(micros):
        raise InvalidArgument.for_field(
            "values", f"has {numbers.size} values for {len(micros)} times"
        )
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        i = int(bad[0])
        raise InvalidArgument.for_field(
            f"values[{i}]", f"is {numbers[i]}; every value must be a finite number"
        )
    steps = np.diff(micros)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        moment = to_datetime(int(micros[i])).isoformat()
        if steps[i - 1] == 0:
            problem = f"repeats times[{i - 1}] ({moment}); timestamps must be unique"
        else:
            problem = f"({moment}) is before times[{i - 1}]; times must be sorted ascending"
        raise InvalidArgument.for_field(f"times[{i}]", problem)
    needed = min_history + 1
    if len(numbers) < needed:
        raise InvalidArgument.for_field(
            "values",
            f"the series has {len(numbers)} points; scoring needs at least {needed} "
            f"({min_history} to learn from, then the points to score)",
        )
    return micros, numbers


def score_series(
    times: Times,
    values: Values,
    *,
    window: int = DEFAULT_WINDOW,
    min_history: int = DEFAULT_MIN_HISTORY,
    levels: Levels = SERIES_LEVELS,
    name: str = "value",
) -> SeriesScores:
    """Score every point of a series against the points before it (see the module doc)."""
    if window < min_history or min_history < 3:
        raise InvalidArgument.for_field("window", "needs window >= min_history >= 3")
    micros, numbers = validate_series(times, values, min_history)
    n = len(numbers)
    stats = trailing(numbers, np.zeros(n, dtype=np.int64), np.arange(n), window, min_history)
    floor = 1e-3 * np.abs(stats.median) + 1e-12
    z = (numbers - stats.median) / np.maximum(np.nan_to_num(stats.sigma), floor)
    scores = np.zeros(n)
    severities = np.zeros(n, dtype=np.int8)
    reasons = [""] * n
    for i in np.flatnonzero(np.isfinite(z)):
        severity, score = graded(abs(float(z[i])), levels)
        if severity is Severity.NONE:
            continue
        scores[i], severities[i] = score, int(severity)
        reasons[i] = (
            f"{name or 'value'} {numbers[i]:.6g} is {z[i]:+.1f} robust σ from the median "
            f"{stats.median[i]:.6g} of the previous {int(stats.count[i])} points"
        )
    return SeriesScores(
        times=micros.astype("datetime64[us]"),
        values=numbers,
        scores=scores,
        severities=severities,
        z=z,
        baseline=stats.median,
        reasons=tuple(reasons),
        warmup=min_history,
    )
