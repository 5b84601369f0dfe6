"""Return series: what forecasts are made from, and where they come from.

A `ReturnSeries` is a history of per-bar simple returns, oldest first, with optional bar times.
A request either carries one or names a backtest; a `ReturnsSource` turns a backtest id into its
series (the backtest service's adapter implements it; see `Forecaster`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from services.forecast.domain.limits import too_large
from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import ensure_utc

#: Fewest returns any method forecasts from.
MIN_RETURNS = 60


@dataclass(frozen=True, eq=False)
class ReturnSeries:
    """Per-bar simple returns (0.01 = +1%), oldest first; `times` empty or one per return."""

    returns: np.ndarray | Sequence[float]
    times: Sequence[datetime] = field(default=())

    def values(self) -> np.ndarray:
        return np.asarray(self.returns, dtype=np.float64)


class ReturnsSource(Protocol):
    """Where the returns of a backtest come from (the backtest service, in the mesh)."""

    async def returns(self, backtest_id: str) -> ReturnSeries:
        """The backtest's per-bar returns; NotFound for an unknown id."""
        ...


@dataclass(frozen=True, eq=False)
class History:
    """A validated series: float64 returns (finite, > -1) and the time of the last one."""

    returns: np.ndarray
    last_time: datetime | None


def validate_returns(
    series: ReturnSeries, *, field: str = "series", max_returns: int | None = None
) -> History:
    """The series as a History, or InvalidArgument naming the bad field (`field.returns[i]`)."""
    try:
        values = series.values()
    except (TypeError, ValueError):
        raise InvalidArgument.for_field(f"{field}.returns", "must all be numbers") from None
    if values.ndim != 1:
        raise InvalidArgument.for_field(f"{field}.returns", "must be a flat list of numbers")
    if len(values) == 0:
        raise InvalidArgument.for_field(f"{field}.returns", "is empty")
    if max_returns is not None and len(values) > max_returns:
        raise too_large(
            f"{field}.returns",
            f"has {len(values)} returns; the server accepts at most {max_returns}",
            max_returns,
            len(values),
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = int(bad[0])
        raise InvalidArgument.for_field(
            f"{field}.returns[{i}]", f"is {values[i]}; every return must be a finite number"
        )
    ruin = np.flatnonzero(values <= -1.0)
    if len(ruin):
        i = int(ruin[0])
        raise InvalidArgument.for_field(
            f"{field}.returns[{i}]",
            f"is {values[i]}; a simple return must be greater than -1 (-100%)",
        )
    if len(values) < MIN_RETURNS:
        raise InvalidArgument.for_field(
            f"{field}.returns",
            f"has {len(values)} returns; forecasting needs at least {MIN_RETURNS}",
            minimum=MIN_RETURNS,
        )
    last_time = _validate_times(series.times, len(values), field)
    return History(values, last_time)


def _validate_times(times: Sequence[datetime], count: int, field: str) -> datetime | None:
    if len(times) == 0:
        return None
    if len(times) != count:
        raise InvalidArgument.for_field(
            f"{field}.times", f"has {len(times)} times for {count} returns; send none or one each"
        )
    moments = [ensure_utc(t) for t in times]
    for i in range(1, len(moments)):
        if moments[i] <= moments[i - 1]:
            raise InvalidArgument.for_field(
                f"{field}.times[{i}]",
                f"({moments[i].isoformat()}) is not after times[{i - 1}]; "
                "times must be strictly increasing",
            )
    return moments[-1]
