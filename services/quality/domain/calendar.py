"""Exchange sessions (XNYS by default, from exchange_calendars) as day numbers for fast lookups.

Daily bars are stamped at midnight UTC of their session date; a bar's session is its UTC date.
Sessions are kept as int64 day numbers (days since 1970-01-01), so counting the sessions between
two bars or listing the next K sessions is a `searchsorted`, not a calendar call.
"""

from __future__ import annotations

import functools
import warnings
from datetime import UTC, date, datetime, timedelta

import exchange_calendars as xcals
import numpy as np

DAY_US = 86_400_000_000
CALENDAR_START = "1990-01-01"


class SessionCalendar:
    """The sessions of one exchange between 1990 and two years from now."""

    def __init__(self, name: str = "XNYS") -> None:
        end = (datetime.now(UTC) + timedelta(days=730)).date().isoformat()
        with warnings.catch_warnings():
            # exchange_calendars reads Series.values, which pandas 3.1 deprecates for zoned data.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message="Series.values returning")
            calendar = xcals.get_calendar(name, start=CALENDAR_START, end=end)
        self.name = name
        self.days: np.ndarray = (
            calendar.sessions.values.astype("datetime64[D]").astype(np.int64).copy()
        )

    @property
    def first_day(self) -> int:
        return int(self.days[0])

    @property
    def last_day(self) -> int:
        return int(self.days[-1])

    def covers(self, days: np.ndarray) -> np.ndarray:
        """Whether each day number lies inside the calendar's known range."""
        return (days >= self.first_day) & (days <= self.last_day)

    def is_session(self, days: np.ndarray) -> np.ndarray:
        """Whether each day number is a session (False outside the known range)."""
        index = np.searchsorted(self.days, days).clip(0, len(self.days) - 1)
        return np.asarray(self.days[index] == days)

    def sessions_between(self, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
        """Sessions strictly between each pair of day numbers (0 when adjacent or reversed)."""
        after_earlier = np.searchsorted(self.days, earlier, side="right")
        before_later = np.searchsorted(self.days, later, side="left")
        return np.asarray(np.maximum(before_later - after_earlier, 0))

    def sessions_after(self, day: int, count: int) -> np.ndarray:
        """The next `count` session day numbers after `day` (fewer at the calendar's end)."""
        start = int(np.searchsorted(self.days, day, side="right"))
        return self.days[start : start + count].copy()

    def session_before(self, day: int, count: int) -> int:
        """The day number `count` sessions before `day` (the calendar's first day at the most)."""
        index = int(np.searchsorted(self.days, day, side="left")) - count
        return int(self.days[max(index, 0)])


@functools.cache
def calendar(name: str = "XNYS") -> SessionCalendar:
    """The shared calendar of `name` (built once per process, about 0.2 s)."""
    return SessionCalendar(name)


def day_numbers(times_us: np.ndarray) -> np.ndarray:
    """UTC day numbers of microsecond timestamps."""
    return np.asarray(np.floor_divide(times_us, DAY_US))


def day_start(day: int) -> datetime:
    """Midnight UTC of a day number."""
    return datetime.combine(date(1970, 1, 1) + timedelta(days=day), datetime.min.time(), UTC)


def lookback_start(before: datetime, sessions: int, name: str = "XNYS") -> datetime:
    """Midnight UTC of the session `sessions` sessions before `before`: a history range start."""
    day = int(before.astimezone(UTC).timestamp() // 86_400)
    return day_start(calendar(name).session_before(day, sessions))
