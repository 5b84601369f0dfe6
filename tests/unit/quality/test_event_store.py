"""The event store: what is kept, how it is listed, acknowledged and summarised, atomically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from services.quality.domain import outbox
from services.quality.domain.event_store import EventStore
from services.quality.domain.events import EventFilter, EventStatus
from services.quality.domain.findings import Check, Severity
from services.quality.domain.report import IngestDecision
from services.quality.domain.webhooks import WebhookConfig
from services.runtime.errors import InvalidArgument, NotFound
from tests.unit.quality.reports import DAY, assessment, report


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[EventStore]:
    connection = duckdb.connect(str(tmp_path / "quality.duckdb"))
    webhooks = WebhookConfig.of(["http://127.0.0.1:9/hook"], secret="s3cret")
    yield EventStore(connection, webhooks=webhooks, clock=clock)
    connection.close()


def mixed() -> list:  # type: ignore[type-arg]
    return [
        assessment(0, "AAA", Severity.LOW),
        assessment(1, "AAA", Severity.MEDIUM, (Check.VOLUME_OUTLIER,), day=1),
        assessment(2, "BBB", Severity.HIGH, (Check.GAP, Check.PRICE_OUTLIER), day=2),
        assessment(3, "CCC", Severity.CRITICAL, (Check.SPLIT_JUMP, Check.PRICE_OUTLIER), day=3),
    ]


def test_rows_at_or_above_the_minimum_become_events_with_the_decision(store: EventStore) -> None:
    events = store.record(report(*mixed()), IngestDecision.QUARANTINED, source="vendor.csv")
    assert [e.severity for e in events] == [Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    stored = store.get(events[-1].id)
    assert stored.check is Check.SPLIT_JUMP
    assert stored.checks == (Check.SPLIT_JUMP, Check.PRICE_OUTLIER)
    assert stored.decision is IngestDecision.QUARANTINED and stored.status is EventStatus.OPEN
    assert stored.time == DAY + timedelta(days=3) and stored.reasons == events[-1].reasons
    assert stored.created_at.tzinfo is not None and stored.acknowledged_at is None


def test_recording_a_batch_twice_stores_it_once(store: EventStore) -> None:
    batch = report(*mixed(), batch_id="batch-1")
    first = store.record(batch, IngestDecision.COMMITTED)
    again = store.record(batch, IngestDecision.COMMITTED)
    assert sorted(e.id for e in again) == sorted(e.id for e in first)
    assert store.list_events().total_size == 3
    assert store.outbox_stats().pending == 2  # HIGH and CRITICAL, one URL


def test_a_failed_write_leaves_nothing_behind(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox, "enqueue", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.record(report(*mixed(), batch_id="b"), IngestDecision.COMMITTED)
    assert store.list_events().total_size == 0
    assert store.summary().batches == 0
    monkeypatch.undo()
    assert len(store.record(report(*mixed(), batch_id="b"), IngestDecision.COMMITTED)) == 3


def test_filters_select_events(store: EventStore, clock: Clock) -> None:
    store.record(report(*mixed()), IngestDecision.COMMITTED)
    clock.tick(60)
    store.record(report(assessment(0, "AAA", Severity.HIGH, day=9)), IngestDecision.FORCED)

    def symbols(**filters: object) -> list[str]:
        page = store.list_events(EventFilter(**filters))  # type: ignore[arg-type]
        return sorted(e.symbol for e in page.events)

    assert symbols(symbol="aaa") == ["AAA", "AAA"]
    assert symbols(check=Check.GAP) == ["AAA", "BBB"]  # the primary check
    assert symbols(check=Check.PRICE_OUTLIER) == []
    assert symbols(min_severity=Severity.HIGH) == ["AAA", "BBB", "CCC"]
    assert symbols(start=DAY + timedelta(days=2), end=DAY + timedelta(days=4)) == ["BBB", "CCC"]
    assert symbols(created_start=clock.now) == ["AAA"]
    assert symbols(status=EventStatus.ACKNOWLEDGED) == []
    with pytest.raises(InvalidArgument) as caught:
        store.list_events(EventFilter(start=DAY, end=DAY))
    assert caught.value.violations[0].field == "time_range"


def test_pages_walk_every_event_once_newest_first(store: EventStore, clock: Clock) -> None:
    for i in range(7):
        clock.tick()
        store.record(report(assessment(0, f"S{i}", Severity.HIGH)), IngestDecision.COMMITTED)
    seen, token = [], ""
    while True:
        page = store.list_events(page_size=3, page_token=token)
        assert page.total_size == 7
        seen += [e.symbol for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"S{i}" for i in reversed(range(7))]
    token = store.list_events(page_size=3).next_page_token
    with pytest.raises(InvalidArgument, match="different filters"):
        store.list_events(EventFilter(symbol="S1"), page_size=3, page_token=token)
    with pytest.raises(InvalidArgument):
        store.list_events(page_size=-1)


def test_acknowledging_is_idempotent_and_unknown_ids_are_not_found(
    store: EventStore, clock: Clock
) -> None:
    [event] = store.record(report(assessment(0, "AAA", Severity.HIGH)), IngestDecision.COMMITTED)
    first = store.acknowledge(event.id, by="oncall@desk")
    clock.tick(3600)
    second = store.acknowledge(event.id, by="someone else")
    assert first.status is EventStatus.ACKNOWLEDGED
    assert first.acknowledged_by == second.acknowledged_by == "oncall@desk"
    assert first.acknowledged_at == second.acknowledged_at == datetime(2024, 1, 2, 9, tzinfo=UTC)
    with pytest.raises(NotFound) as caught:
        store.acknowledge("no-such-event")
    assert caught.value.reason == "EVENT_NOT_FOUND"
    with pytest.raises(InvalidArgument):
        store.acknowledge(" ")


def test_the_summary_is_the_operations_panel(store: EventStore, clock: Clock) -> None:
    store.record(report(*mixed()), IngestDecision.QUARANTINED)
    clock.tick(60)
    late = store.record(report(assessment(0, "BBB", Severity.HIGH)), IngestDecision.COMMITTED)
    store.acknowledge(late[0].id)
    panel = store.summary()
    assert panel.total == 4 and panel.open == 3
    assert panel.by_severity == {
        Severity.LOW: 0,
        Severity.MEDIUM: 1,
        Severity.HIGH: 2,
        Severity.CRITICAL: 1,
    }
    assert panel.by_check == {Check.GAP: 2, Check.VOLUME_OUTLIER: 1, Check.SPLIT_JUMP: 1}
    assert panel.pending_webhooks == 3
    assert panel.by_symbol == {"BBB": 2, "AAA": 1, "CCC": 1}
    assert panel.by_decision == {IngestDecision.QUARANTINED: 3, IngestDecision.COMMITTED: 1}
    assert panel.batches == 2 and panel.quarantined_batches == 1
    assert panel.latest[0].id == late[0].id  # newest first
    assert sorted(e.symbol for e in panel.latest[1:]) == ["BBB", "CCC"]
    assert all(e.severity >= Severity.HIGH for e in panel.latest)
    recent = store.summary(start=clock.now)
    assert recent.total == 1 and recent.batches == 1


def test_a_later_decision_is_recorded_with_the_events(store: EventStore) -> None:
    store.record(report(*mixed(), batch_id="b7"), IngestDecision.COMMITTED)
    assert store.set_decision("b7", IngestDecision.REJECTED) == 3
    assert {e.decision for e in store.list_events().events} == {IngestDecision.REJECTED}
    with pytest.raises(NotFound):
        store.set_decision("nope", IngestDecision.REJECTED)


def test_events_survive_a_reconnect(tmp_path: Path, clock: Clock) -> None:
    path = str(tmp_path / "q.duckdb")
    connection = duckdb.connect(path)
    EventStore(connection, clock=clock).record(report(*mixed()), IngestDecision.COMMITTED)
    connection.close()
    reopened = duckdb.connect(path)
    assert EventStore(reopened, clock=clock).list_events().total_size == 3
    reopened.close()
