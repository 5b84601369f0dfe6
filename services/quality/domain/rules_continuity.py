"""Continuity rules: missing sessions (gaps), stale prices, zero volume.

The gap rule counts the exchange sessions between a bar and the symbol's previous bar (from the
history when the bar is the symbol's first in the batch). It applies to daily bars only: minute
bars have holes whenever nobody trades, so the rule is skipped for them.
"""

from __future__ import annotations

import numpy as np

from services.quality.domain.calendar import calendar, day_numbers
from services.quality.domain.config import RuleConfig
from services.quality.domain.features import RawFeatures
from services.quality.domain.findings import Check, Severity, band_score, graded
from services.quality.domain.panel import Panel
from services.quality.domain.sink import FindingSink, format_day

_DAY_US = 86_400_000_000


def check_gaps(panel: Panel, raw: RawFeatures, config: RuleConfig, sink: FindingSink) -> None:
    """HIGH for every batch bar that follows missing sessions; LOW for off-calendar dates."""
    if config.calendar is None:
        return
    sessions = calendar(config.calendar)
    targets = panel.targets
    days = day_numbers(panel.time[targets])
    inside = sessions.covers(days)
    for index in targets[inside & ~sessions.is_session(days)]:
        sink.add(
            panel.row[index],
            Check.GAP,
            Severity.LOW,
            band_score(Severity.LOW, 0.5),
            f"dated {format_day(int(panel.time[index]))}, a day {config.calendar} was closed",
        )
    missed = raw.missed[targets]
    for index, count in zip(targets[missed > 0], missed[missed > 0].tolist(), strict=True):
        previous = int(raw.previous[index])
        first_missing = sessions.sessions_after(int(day_numbers(panel.time[previous])), 1)
        start = format_day(int(first_missing[0]) * _DAY_US) if len(first_missing) else "?"
        where = "history" if panel.row[previous] < 0 else "batch"
        sink.add(
            panel.row[index],
            Check.GAP,
            Severity.HIGH,
            band_score(Severity.HIGH, np.log(count) / np.log(60)),
            f"{count} {config.calendar} session{'s' if count > 1 else ''} missing from {start} "
            f"since the previous bar on {format_day(int(panel.time[previous]))} ({where})",
        )


def run_lengths(panel: Panel, equal_to_previous: np.ndarray) -> np.ndarray:
    """Per row: 1 + the number of directly preceding rows in a chain of equal values."""
    breaks = ~equal_to_previous
    index = np.arange(len(panel))
    last_break = np.maximum.accumulate(np.where(breaks, index, 0))
    return index - last_break + 1


def check_stale(panel: Panel, raw: RawFeatures, config: RuleConfig, sink: FindingSink) -> None:
    """Unchanged closes over several sessions, and bars that repeat the previous bar exactly."""
    previous = raw.previous
    has_previous = previous >= 0
    prior = previous.clip(0)
    same_close = has_previous & (panel.close == panel.close[prior])
    runs = run_lengths(panel, same_close)
    targets = panel.targets
    for index in targets[runs[targets] >= config.stale_levels[0]]:
        length = int(runs[index])
        severity, score = graded(length, config.stale_levels)
        since = format_day(int(panel.time[index - length + 1]))
        sink.add(
            panel.row[index],
            Check.STALE,
            severity,
            score,
            f"close {panel.close[index]:g} unchanged for {length} bars since {since}",
        )
    if not config.flag_repeated_bars:
        return
    columns = (panel.open, panel.high, panel.low, panel.close, panel.volume)
    repeated = has_previous.copy()
    for values in columns:
        repeated &= values == values[prior]
    for index in targets[repeated[targets]]:
        sink.add(
            panel.row[index],
            Check.STALE,
            Severity.HIGH,
            band_score(Severity.HIGH, 0.5),
            f"repeats the previous bar ({format_day(int(panel.time[previous[index]]))}) "
            "exactly: open, high, low, close and volume",
        )


def check_zero_volume(panel: Panel, config: RuleConfig, sink: FindingSink) -> None:
    targets = panel.targets
    for index in targets[panel.volume[targets] == 0]:
        severity = config.zero_volume_severity
        sink.add(
            panel.row[index],
            Check.ZERO_VOLUME,
            severity,
            band_score(severity, 0.5),
            "volume is 0: no trades reported for the bar",
        )
