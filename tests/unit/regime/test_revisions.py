"""RevisionIndex: an answer is stale once a later batch touched its symbol at or before its bar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.regime.domain.revisions import RevisionIndex

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def test_later_bars_do_not_make_earlier_answers_stale() -> None:
    index = RevisionIndex()
    index.record(["AAA"], day(0), ingested_at=day(100))
    index.record(["AAA"], day(50), ingested_at=day(101))  # new bars from day 50 on
    assert not index.stale("AAA", day(49), computed_as_of=day(100))
    assert index.stale("AAA", day(50), computed_as_of=day(100))
    assert not index.stale("AAA", day(50), computed_as_of=day(101))


def test_a_backfill_revision_invalidates_everything_after_it() -> None:
    index = RevisionIndex()
    index.record(["AAA"], day(0), ingested_at=day(100))
    index.record(["AAA"], day(60), ingested_at=day(101))
    index.record(["AAA"], day(10), ingested_at=day(102))  # a revision of old bars
    assert index.stale("AAA", day(40), computed_as_of=day(101))
    assert not index.stale("AAA", day(9), computed_as_of=day(101))
    assert index.watermark == day(102)


def test_other_symbols_are_unaffected() -> None:
    index = RevisionIndex()
    index.record(["AAA", "BBB"], day(0), ingested_at=day(100))
    index.record(["BBB"], day(5), ingested_at=day(101))
    assert not index.stale("AAA", day(30), computed_as_of=day(100))
    assert index.stale("BBB", day(30), computed_as_of=day(100))
    assert not index.stale("ZZZ", day(30), computed_as_of=day(1))
