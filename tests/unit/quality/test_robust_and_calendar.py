"""Trailing statistics are causal and per symbol; the calendar counts exchange sessions."""

from __future__ import annotations

from datetime import date

import numpy as np

from services.quality.domain.calendar import calendar, day_numbers
from services.quality.domain.robust import _gathered, _rolling, trailing


def day(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


def test_statistics_use_only_earlier_rows_of_the_same_group() -> None:
    values = np.array([1.0, 2.0, 3.0, 100.0, 5.0, 6.0, 7.0, 8.0])
    groups = np.array([0, 0, 0, 0, 4, 4, 4, 4])  # the first row of each row's group
    stats = trailing(values, groups, np.array([3, 7]), window=10, min_count=3)
    assert stats.median.tolist() == [2.0, 6.0]  # row 3's own 100 and group 0 stay out of row 7
    assert stats.count.tolist() == [3, 3]
    short = trailing(values, groups, np.array([2]), window=10, min_count=3)
    assert np.isnan(short.median[0]) and short.count[0] == 2


def test_both_strategies_agree_including_gaps_and_window_edges() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    starts = np.repeat([0, 1000, 1800], [1000, 800, 1200])
    values = rng.standard_t(3, n)
    values[rng.random(n) < 0.02] = np.nan
    targets = np.arange(n)
    a = _gathered(values, starts, targets, 60, 20)
    b = _rolling(values, starts, targets, 60, 20)
    np.testing.assert_allclose(a.median, b.median, equal_nan=True)
    np.testing.assert_allclose(a.sigma, b.sigma, equal_nan=True)
    np.testing.assert_array_equal(a.count, b.count)


def test_the_robust_sigma_ignores_a_few_wild_values() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 1.0, 300)
    values[::30] = 1e6
    stats = trailing(values, np.zeros(300, dtype=np.int64), np.array([299]), 250, 20)
    assert 0.8 < stats.sigma[0] < 1.4 and abs(stats.median[0]) < 0.3


def test_sessions_between_bars_skip_weekends_and_holidays() -> None:
    xnys = calendar("XNYS")
    between = xnys.sessions_between(
        np.array([day("2019-11-27"), day("2019-11-29"), day("2012-10-26"), day("2020-01-02")]),
        np.array([day("2019-11-29"), day("2019-12-03"), day("2012-10-31"), day("2020-01-03")]),
    )
    # Thanksgiving; one Monday; Hurricane Sandy closed 29-30 Oct 2012; adjacent sessions.
    assert between.tolist() == [0, 1, 0, 0]
    assert xnys.is_session(np.array([day("2019-11-28"), day("2019-11-29")])).tolist() == [
        False,
        True,
    ]
    assert xnys.sessions_after(day("2019-12-31"), 2).tolist() == [
        day("2020-01-02"),
        day("2020-01-03"),
    ]
    assert day_numbers(np.array([86_400_000_000 * 3 + 5])).tolist() == [3]
