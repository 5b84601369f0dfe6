"""Rule checks: each anomaly on an otherwise clean synthetic market gets its finding and reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.findings import Check, Finding, Severity
from services.quality.domain.report import BatchReport, Verdict
from services.quality.domain.sentinel import Sentinel
from tests.unit.quality.helpers import drop, edit, market, row, split_last, times

SYMBOL = "SYN003"


@pytest.fixture(scope="module")
def bars() -> pa.Table:
    return market(symbols=6, days=260)


@pytest.fixture(scope="module")
def sentinel() -> Sentinel:
    return Sentinel()


def check(sentinel: Sentinel, history: pa.Table, batch: pa.Table) -> BatchReport:
    return sentinel.check_batch(batch, history)


def of(report: BatchReport, check: Check, symbol: str = SYMBOL) -> list[Finding]:
    return [f for f in report.findings if f.check is check and f.symbol == symbol]


def last_day(bars: pa.Table) -> int:
    return int(times(bars)[-1])


def test_a_clean_day_passes(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    report = check(sentinel, history, batch)
    assert report.verdict is Verdict.PASS
    assert report.max_severity < Severity.HIGH
    assert report.rows == batch.num_rows and len(report.symbols) == 6
    assert report.row_severities.shape == (batch.num_rows,)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("close", float("nan"), "close is missing or NaN"),
        ("open", float("inf"), "open is infinite"),
        ("low", -1.0, "low is -1; prices must be > 0"),
        ("volume", -5.0, "volume is -5"),
    ],
)
def test_bad_values_are_critical_schema_findings(
    sentinel: Sentinel, bars: pa.Table, column: str, value: float, reason: str
) -> None:
    history, batch = split_last(bars)
    report = check(sentinel, history, edit(batch, SYMBOL, last_day(bars), **{column: value}))
    found = of(report, Check.SCHEMA)
    assert found and found[0].severity is Severity.CRITICAL
    assert any(reason in r for r in found[0].reasons)
    assert report.verdict is Verdict.QUARANTINE


def test_missing_and_future_times_are_schema_errors(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    times_column = batch.column("time").to_pylist()
    times_column[0] = None
    times_column[1] = datetime.now(UTC) + timedelta(days=30)
    index = batch.schema.get_field_index("time")
    broken = batch.set_column(
        index, "time", pa.array(times_column, batch.schema.field("time").type)
    )
    report = check(sentinel, history, broken)
    reasons = {r for f in report.findings if f.check is Check.SCHEMA for r in f.reasons}
    assert "time is missing" in reasons
    assert any("is in the future" in r for r in reasons)
    assert report.row_severities[0] == report.row_severities[1] == Severity.CRITICAL


def test_inconsistent_ohlc_is_critical(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    day = last_day(bars)
    bar = row(batch, SYMBOL, day)
    swapped = edit(batch, SYMBOL, day, high=bar["low"], low=bar["high"])
    found = of(check(sentinel, history, swapped), Check.OHLC)
    assert found[0].severity is Severity.CRITICAL
    assert any("is below low" in r for r in found[0].reasons)
    outside = edit(batch, SYMBOL, day, close=bar["high"] * 1.02)
    assert any(
        "close" in r and "outside" in r
        for r in of(check(sentinel, history, outside), Check.OHLC)[0].reasons
    )


def test_duplicates_in_a_batch_are_flagged_on_every_copy(
    sentinel: Sentinel, bars: pa.Table
) -> None:
    history, batch = split_last(bars)
    day = last_day(bars)
    copy = batch.filter(pa.compute.equal(batch.column("symbol"), SYMBOL))
    same = check(sentinel, history, pa.concat_tables([batch, copy]))
    assert [f.severity for f in of(same, Check.DUPLICATE)] == [Severity.MEDIUM] * 2
    conflicting = edit(copy, SYMBOL, day, close=row(copy, SYMBOL, day)["close"] * 1.001)
    found = of(check(sentinel, history, pa.concat_tables([batch, conflicting])), Check.DUPLICATE)
    assert [f.severity for f in found] == [Severity.CRITICAL] * 2
    assert "conflicting values" in found[0].reasons[0]


def test_a_bar_that_changes_a_stored_bar_is_a_revision(sentinel: Sentinel, bars: pa.Table) -> None:
    history, _ = split_last(bars)
    day = int(times(history)[-1])
    stored = row(history, SYMBOL, day)
    revised = edit(history, SYMBOL, day, close=stored["close"] * 1.05)
    batch = revised.filter(pa.compute.equal(revised.column("time").cast(pa.int64()), day))
    found = of(check(sentinel, history, batch), Check.DUPLICATE)
    assert found[0].severity is Severity.MEDIUM
    assert "revises the stored bar" in found[0].reasons[0]
    unchanged = history.filter(pa.compute.equal(history.column("time").cast(pa.int64()), day))
    assert not check(sentinel, history, unchanged).findings


def test_missing_sessions_are_gaps_against_the_exchange_calendar(
    sentinel: Sentinel, bars: pa.Table
) -> None:
    history, batch = split_last(bars)
    holed = drop(history, SYMBOL, int(times(history)[-1]))
    found = of(check(sentinel, holed, batch), Check.GAP)
    assert found[0].severity is Severity.HIGH
    assert "1 XNYS session missing" in found[0].reasons[0] and "(history)" in found[0].reasons[0]
    others = [
        f
        for f in check(sentinel, holed, batch).findings
        if f.check is Check.GAP and f.symbol != SYMBOL
    ]
    assert not [f for f in others if f.severity >= Severity.MEDIUM]


def test_exchange_holidays_are_not_gaps_and_bars_on_them_are_noted(sentinel: Sentinel) -> None:
    def bar(day: str) -> dict[str, object]:
        return {
            "symbol": "AAA",
            "time": datetime.fromisoformat(day).replace(tzinfo=UTC),
            "open": 10.0,
            "high": 10.5,
            "low": 9.5,
            "close": 10.0 + len(day) % 3,
            "volume": 1e5,
        }

    history = pa.Table.from_pylist([bar("2019-11-26"), bar("2019-11-27")])
    across_thanksgiving = sentinel.check_batch(pa.Table.from_pylist([bar("2019-11-29")]), history)
    assert not [f for f in across_thanksgiving.findings if f.check is Check.GAP]
    on_holiday = sentinel.check_batch(pa.Table.from_pylist([bar("2019-11-28")]), history)
    assert [f.severity for f in on_holiday.findings if f.check is Check.GAP] == [Severity.LOW]
    skipped = sentinel.check_batch(pa.Table.from_pylist([bar("2019-12-03")]), history)
    gap = next(f for f in skipped.findings if f.check is Check.GAP)
    assert "2 XNYS sessions missing from 2019-11-29" in gap.reasons[0]


def test_minute_bars_skip_the_calendar_rule(sentinel: Sentinel) -> None:
    start = datetime(2021, 3, 1, 14, 30, tzinfo=UTC)
    rows = [
        {
            "symbol": "SPY",
            "time": start + timedelta(minutes=m),
            "open": 100.0,
            "high": 100.2,
            "low": 99.9,
            "close": 100.0 + 0.01 * (m % 7),
            "volume": 500.0,
        }
        for m in (0, 1, 2, 30, 31)
    ]
    report = sentinel.check_batch(pa.Table.from_pylist(rows), frequency=Frequency.MINUTE)
    assert not [f for f in report.findings if f.check is Check.GAP]
    assert any("gap rule skipped" in note for note in report.notes)


def test_unchanged_closes_and_repeated_bars_are_stale(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    stamps = times(history)
    base = row(history, SYMBOL, int(stamps[-4]))
    flat = history
    for day in stamps[-3:]:
        flat = edit(
            flat,
            SYMBOL,
            int(day),
            close=base["close"],
            high=max(base["close"], row(flat, SYMBOL, int(day))["high"]),
            low=min(base["close"], row(flat, SYMBOL, int(day))["low"]),
        )
    day = last_day(bars)
    today = edit(
        batch,
        SYMBOL,
        day,
        close=base["close"],
        high=max(base["close"], row(batch, SYMBOL, day)["high"]),
        low=min(base["close"], row(batch, SYMBOL, day)["low"]),
    )
    found = of(check(sentinel, flat, today), Check.STALE)
    assert found[0].severity is Severity.HIGH
    assert "unchanged for 5 bars" in found[0].reasons[0]
    previous = row(history, SYMBOL, int(stamps[-1]))
    repeat = edit(
        batch, SYMBOL, day, **{k: previous[k] for k in ("open", "high", "low", "close", "volume")}
    )
    repeated = of(check(sentinel, history, repeat), Check.STALE)
    assert repeated[0].severity is Severity.HIGH
    assert any("repeats the previous bar" in r for r in repeated[0].reasons)


@pytest.mark.parametrize(
    ("volume", "reason"), [(0.0, "volume is 0"), (float("nan"), "volume is missing")]
)
def test_zero_or_missing_volume(
    sentinel: Sentinel, bars: pa.Table, volume: float, reason: str
) -> None:
    history, batch = split_last(bars)
    found = of(
        check(sentinel, history, edit(batch, SYMBOL, last_day(bars), volume=volume)),
        Check.ZERO_VOLUME,
    )
    assert found[0].severity is Severity.HIGH and reason in found[0].reasons[0]


def scaled(batch: pa.Table, day: int, price: float, volume: float) -> pa.Table:
    bar = row(batch, SYMBOL, day)
    return edit(
        batch,
        SYMBOL,
        day,
        **{k: bar[k] * price for k in ("open", "high", "low", "close")},
        volume=bar["volume"] * volume,
    )


@pytest.mark.parametrize(
    ("price", "volume", "name"),
    [
        (0.5, 2.0, "2-for-1 split"),
        (1 / 3, 1.0, "3-for-1 split"),
        (3.0, 1 / 3, "1-for-3 reverse split"),
        (2 / 3, 1.5, "3-for-2 split"),
    ],
)
def test_split_like_jumps_are_critical(
    sentinel: Sentinel, bars: pa.Table, price: float, volume: float, name: str
) -> None:
    history, batch = split_last(bars)
    report = check(sentinel, history, scaled(batch, last_day(bars), price, volume))
    found = of(report, Check.SPLIT_JUMP)
    assert found and found[0].severity is Severity.CRITICAL
    assert name in found[0].reasons[0]
    assert report.verdict is Verdict.QUARANTINE


def test_a_halving_on_crash_volume_is_not_split_like(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    report = check(sentinel, history, scaled(batch, last_day(bars), 0.5, 40.0))
    assert not of(report, Check.SPLIT_JUMP)


def test_an_unconfirmed_jump_is_high_and_a_confirmed_one_is_news(
    sentinel: Sentinel, bars: pa.Table
) -> None:
    history, batch = split_last(bars)
    day = last_day(bars)
    quiet = of(check(sentinel, history, scaled(batch, day, 1.25, 1.0)), Check.PRICE_OUTLIER)
    assert quiet[0].severity >= Severity.HIGH
    assert "not confirmed by volume" in quiet[0].reasons[0]
    loud = of(check(sentinel, history, scaled(batch, day, 1.25, 30.0)), Check.PRICE_OUTLIER)
    assert loud[0].severity is Severity.LOW
    assert "consistent with genuine news" in loud[0].reasons[0]


def test_the_bar_that_undoes_a_bad_print_is_the_repair(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    yesterday = int(times(history)[-1])
    spiked = scaled(history, yesterday, 1.3, 1.0)
    found = of(check(sentinel, spiked, batch), Check.PRICE_OUTLIER)
    assert found[0].severity is Severity.LOW
    assert "undoes the previous bar's unconfirmed move of +3" in found[0].reasons[0]


def test_a_far_wick_is_a_bad_print_unless_the_whole_market_has_one(
    sentinel: Sentinel, bars: pa.Table
) -> None:
    history, batch = split_last(bars)
    day = last_day(bars)
    bar = row(batch, SYMBOL, day)
    one = edit(batch, SYMBOL, day, low=min(bar["open"], bar["close"]) * 0.7)
    found = of(check(sentinel, history, one), Check.PRICE_OUTLIER)
    assert found[0].severity is Severity.HIGH and "low" in found[0].reasons[0]
    everyone = batch
    for symbol in batch.column("symbol").to_pylist():
        b = row(everyone, symbol, day)
        everyone = edit(everyone, symbol, day, low=min(b["open"], b["close"]) * 0.7)
    crash = of(check(sentinel, history, everyone), Check.PRICE_OUTLIER)
    assert crash[0].severity is Severity.MEDIUM and "market-wide" in crash[0].reasons[0]


@pytest.mark.parametrize(
    ("factor", "severity"),
    [(40.0, Severity.HIGH), (2000.0, Severity.CRITICAL), (0.01, Severity.HIGH)],
)
def test_volume_far_outside_history(
    sentinel: Sentinel, bars: pa.Table, factor: float, severity: Severity
) -> None:
    history, batch = split_last(bars)
    found = of(
        check(sentinel, history, scaled(batch, last_day(bars), 1.0, factor)), Check.VOLUME_OUTLIER
    )
    assert found[0].severity is severity


def test_findings_name_rows_of_the_batch_as_given(sentinel: Sentinel, bars: pa.Table) -> None:
    history, batch = split_last(bars)
    broken = edit(batch, SYMBOL, last_day(bars), close=float("nan"))
    reversed_batch = broken.take(pa.array(np.arange(broken.num_rows)[::-1]))
    report = check(sentinel, history, reversed_batch)
    [bad] = of(report, Check.SCHEMA)
    assert reversed_batch.column("symbol")[bad.row].as_py() == SYMBOL
    assert report.row_severities[bad.row] == Severity.CRITICAL


def test_a_long_batch_is_judged_bar_by_bar_as_daily_batches_would_be(
    sentinel: Sentinel, bars: pa.Table
) -> None:
    """Every rule is causal: checking 15 sessions at once equals checking them one by one."""
    stamps = times(bars)
    day = int(stamps[-8])
    bars = scaled(bars, day, 1.3, 1.0)
    bars = edit(bars, "SYN005", int(stamps[-4]), volume=0.0)
    history, batch = split_last(bars, 15)
    at_once = {
        (f.symbol, f.time, f.check, f.severity) for f in check(sentinel, history, batch).findings
    }
    one_by_one = set()
    for k in range(15, 0, -1):
        past, rest = split_last(bars, k)
        today = rest.filter(pa.compute.equal(rest.column("time").cast(pa.int64()), int(stamps[-k])))
        one_by_one |= {
            (f.symbol, f.time, f.check, f.severity) for f in check(sentinel, past, today).findings
        }
    assert at_once == one_by_one
    assert any(c is Check.PRICE_OUTLIER and s >= Severity.HIGH for _, _, c, s in at_once)
