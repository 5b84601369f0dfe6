"""Data-quality events, batch decisions and the webhook outbox in one DuckDB database.

`record` stores a checked batch in one transaction: the batch's decision, an event for every
row at or above the minimum severity, and an outbox row per webhook URL for each HIGH and
CRITICAL event. Either all of it is written or none. Writes are serialised by a lock; reads run
on per-thread cursors of the one connection passed in.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain import outbox
from services.quality.domain.events import (
    DataQualityEvent,
    EventFilter,
    EventPage,
    EventStatus,
    QualitySummary,
)
from services.quality.domain.findings import Check, Reason, Severity
from services.quality.domain.report import BatchReport, IngestDecision
from services.quality.domain.webhooks import WebhookConfig
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS quality_batches (
    batch_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    symbols BIGINT NOT NULL,
    max_severity INTEGER NOT NULL,
    verdict VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,
    events BIGINT NOT NULL,
    summary VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS quality_events (
    id VARCHAR PRIMARY KEY,
    batch_id VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    time TIMESTAMP,
    check_name VARCHAR NOT NULL,
    checks VARCHAR[] NOT NULL,
    score DOUBLE NOT NULL,
    severity INTEGER NOT NULL,
    reasons STRUCT("check" VARCHAR, score DOUBLE, severity INTEGER, detail VARCHAR)[] NOT NULL,
    status VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    acknowledged_by VARCHAR NOT NULL
);
"""
_COLUMNS = (
    "id, batch_id, symbol, frequency, time, check_name, checks, score, severity, reasons, "
    "status, decision, created_at, acknowledged_at, acknowledged_by"
)
_REASON_TYPE = pa.list_(
    pa.struct(
        [
            ("check", pa.string()),
            ("score", pa.float64()),
            ("severity", pa.int32()),
            ("detail", pa.string()),
        ]
    )
)


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _event(row: tuple[Any, ...]) -> DataQualityEvent:
    (
        id_,
        batch,
        symbol,
        freq,
        time,
        check,
        checks,
        score,
        severity,
        reasons,
        status,
        decision,
        created,
        acknowledged,
        acknowledged_by,
    ) = row
    return DataQualityEvent(
        id=id_,
        batch_id=batch,
        symbol=symbol,
        frequency=Frequency(freq),
        time=_aware(time),
        check=Check(check),
        checks=tuple(Check(c) for c in checks),
        score=float(score),
        severity=Severity(severity),
        reasons=tuple(
            Reason(Check(r["check"]), float(r["score"]), Severity(r["severity"]), r["detail"])
            for r in reasons
        ),
        status=EventStatus(status),
        decision=IngestDecision(decision),
        created_at=created.replace(tzinfo=UTC),
        acknowledged_at=_aware(acknowledged),
        acknowledged_by=acknowledged_by,
    )


class EventStore:
    """Events of checked batches; see the module doc."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        *,
        min_severity: Severity = Severity.MEDIUM,
        webhooks: WebhookConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if min_severity < Severity.LOW:
            raise InvalidArgument.for_field("min_severity", "must be LOW or above")
        self._db = connection
        self._db.execute(_SCHEMA_SQL + outbox.OUTBOX_SQL)
        self.min_severity = min_severity
        self.webhooks = webhooks
        self.clock = clock
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._local = threading.local()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the store's connection."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._cursor_lock:  # the parent connection serves one call at a time
                cursor = self._db.cursor()
            self._local.cursor = cursor
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A serialised write transaction: committed on exit, rolled back on any exception."""
        with self._write_lock:
            cursor = self.cursor()
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def record(
        self, report: BatchReport, decision: IngestDecision, source: str = ""
    ) -> list[DataQualityEvent]:
        """Store the batch's decision and events (and queue webhooks) atomically.

        Recording a batch id again stores nothing and returns the events stored the first time.
        """
        now = self.clock()
        events = [
            DataQualityEvent(
                id=uuid.uuid4().hex,
                batch_id=report.batch_id,
                symbol=a.symbol,
                frequency=report.frequency,
                time=a.time,
                check=a.check,
                checks=a.checks,
                score=a.score,
                severity=a.severity,
                reasons=a.reasons,
                status=EventStatus.OPEN,
                decision=decision,
                created_at=now,
            )
            for a in report.assessments
            if a.severity >= self.min_severity
        ]
        with self.transaction() as cursor:
            known = cursor.execute(
                "SELECT 1 FROM quality_batches WHERE batch_id = ?", [report.batch_id]
            ).fetchall()
            if known:
                return self._batch_events(cursor, report.batch_id)
            cursor.execute(
                "INSERT INTO quality_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    report.batch_id,
                    _naive(now),
                    source,
                    report.frequency.value,
                    report.rows,
                    len(report.symbols),
                    int(report.max_severity),
                    report.verdict.value,
                    decision.value,
                    len(events),
                    report.summary(),
                ],
            )
            if events:
                self._insert(cursor, events)
                if self.webhooks is not None and self.webhooks.urls:
                    outbox.enqueue(cursor, events, self.webhooks, now)
        return events

    def _insert(self, cursor: duckdb.DuckDBPyConnection, events: list[DataQualityEvent]) -> None:
        table = pa.table(
            {
                "id": [e.id for e in events],
                "batch_id": [e.batch_id for e in events],
                "symbol": [e.symbol for e in events],
                "frequency": [e.frequency.value for e in events],
                "time": pa.array([_naive(e.time) for e in events], pa.timestamp("us")),
                "check_name": [e.check.value for e in events],
                "checks": pa.array(
                    [[c.value for c in e.checks] for e in events], pa.list_(pa.string())
                ),
                "score": pa.array([e.score for e in events], pa.float64()),
                "severity": pa.array([int(e.severity) for e in events], pa.int32()),
                "reasons": pa.array(
                    [
                        [
                            {
                                "check": r.check.value,
                                "score": r.score,
                                "severity": int(r.severity),
                                "detail": r.detail,
                            }
                            for r in e.reasons
                        ]
                        for e in events
                    ],
                    _REASON_TYPE,
                ),
                "status": [e.status.value for e in events],
                "decision": [e.decision.value for e in events],
                "created_at": pa.array([_naive(e.created_at) for e in events], pa.timestamp("us")),
                "acknowledged_at": pa.nulls(len(events), pa.timestamp("us")),
                "acknowledged_by": [""] * len(events),
            }
        )
        cursor.register("new_quality_events", table)
        try:
            cursor.execute(
                f"INSERT INTO quality_events ({_COLUMNS}) SELECT {_COLUMNS} FROM new_quality_events"
            )
        finally:
            cursor.unregister("new_quality_events")

    def _batch_events(
        self, cursor: duckdb.DuckDBPyConnection, batch_id: str
    ) -> list[DataQualityEvent]:
        rows = cursor.execute(
            f"SELECT {_COLUMNS} FROM quality_events WHERE batch_id = ? ORDER BY time, symbol, id",
            [batch_id],
        ).fetchall()
        return [_event(r) for r in rows]

    def set_decision(self, batch_id: str, decision: IngestDecision) -> int:
        """Record a later decision about a batch (for example REJECTED at commit); NotFound if
        the batch was never recorded. Returns the number of its events updated."""
        with self.transaction() as cursor:
            found = cursor.execute(
                "UPDATE quality_batches SET decision = ? WHERE batch_id = ? RETURNING batch_id",
                [decision.value, batch_id],
            ).fetchall()
            if not found:
                raise NotFound(
                    f"no batch {batch_id!r} was recorded",
                    reason="BATCH_NOT_FOUND",
                    metadata={"batch_id": batch_id},
                )
            updated = cursor.execute(
                "UPDATE quality_events SET decision = ? WHERE batch_id = ? RETURNING id",
                [decision.value, batch_id],
            ).fetchall()
        return len(updated)

    def get(self, event_id: str) -> DataQualityEvent:
        """The event, or NotFound."""
        if not event_id.strip():
            raise InvalidArgument.for_field("event_id", "is required")
        rows = (
            self.cursor()
            .execute(f"SELECT {_COLUMNS} FROM quality_events WHERE id = ?", [event_id.strip()])
            .fetchall()
        )
        if not rows:
            raise NotFound(
                f"no data-quality event {event_id!r}",
                reason="EVENT_NOT_FOUND",
                metadata={"event_id": event_id},
            )
        return _event(rows[0])

    def acknowledge(self, event_id: str, by: str = "") -> DataQualityEvent:
        """Mark the event acknowledged by `by` (idempotent: the first acknowledgement stays)."""
        event = self.get(event_id)
        if event.status is EventStatus.ACKNOWLEDGED:
            return event
        with self.transaction() as cursor:
            cursor.execute(
                "UPDATE quality_events SET status = ?, acknowledged_at = "
                "coalesce(acknowledged_at, ?), acknowledged_by = ? WHERE id = ? "
                "AND acknowledged_at IS NULL",
                [EventStatus.ACKNOWLEDGED.value, _naive(self.clock()), by.strip(), event.id],
            )
        return self.get(event.id)

    @staticmethod
    def _where(f: EventFilter) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        conditions: list[tuple[bool, str, Any]] = [
            (bool(f.symbol), "symbol = ?", f.symbol),
            (f.check is not None, "check_name = ?", f.check.value if f.check else None),
            (f.min_severity > Severity.NONE, "severity >= ?", int(f.min_severity)),
            (f.status is not None, "status = ?", f.status.value if f.status else None),
            (f.start is not None, "time >= ?", _naive(f.start)),
            (f.end is not None, "time < ?", _naive(f.end)),
            (f.created_start is not None, "created_at >= ?", _naive(f.created_start)),
            (f.created_end is not None, "created_at < ?", _naive(f.created_end)),
            (bool(f.batch_id), "batch_id = ?", f.batch_id),
        ]
        for active, clause, value in conditions:
            if active:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params

    def list_events(
        self, filters: EventFilter | None = None, page_size: int = 0, page_token: str = ""
    ) -> EventPage:
        """Events matching `filters`, newest first, a page at a time (opaque tokens)."""
        f = (filters or EventFilter()).normalized()
        size = clamp_page_size(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = f.fingerprint()
        position = decode_page_token(page_token, fingerprint)
        where, params = self._where(f)
        cursor = self.cursor()
        total_row = cursor.execute(
            f"SELECT count(*) FROM quality_events WHERE {where}", params
        ).fetchone()
        keyset, keyset_params = "", []
        if position is not None:
            try:
                after = datetime.fromisoformat(str(position[0])).replace(tzinfo=None)
                keyset, keyset_params = " AND (created_at, id) < (?, ?)", [after, str(position[1])]
            except (ValueError, IndexError, TypeError):
                raise InvalidArgument.for_field(
                    "page_token", "is not a token this service issued"
                ) from None
        rows = cursor.execute(
            f"SELECT {_COLUMNS} FROM quality_events WHERE {where}{keyset} "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            [*params, *keyset_params, size + 1],
        ).fetchall()
        events = [_event(r) for r in rows[:size]]
        token = ""
        if len(rows) > size:
            last = events[-1]
            token = encode_page_token([_naive(last.created_at).isoformat(), last.id], fingerprint)  # type: ignore[union-attr]
        return EventPage(events, token, int(total_row[0]) if total_row else 0)

    def summary(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        latest: int = 10,
        top_symbols: int = 20,
    ) -> QualitySummary:
        """Counts over events created in [start, end) and the newest HIGH/CRITICAL events
        (`latest`: 0 means 10, at most 100)."""
        latest = 10 if latest <= 0 else min(latest, 100)
        f = EventFilter(created_start=start, created_end=end).normalized()
        where, params = self._where(f)
        cursor = self.cursor()

        def grouped(column: str, limit: int | None = None) -> list[tuple[Any, int]]:
            sql = (
                f"SELECT {column} AS k, count(*) AS n FROM quality_events WHERE {where} "
                "GROUP BY k ORDER BY n DESC, k"
            )
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return [(k, int(n)) for k, n in cursor.execute(sql, params).fetchall()]

        by_severity = {s: 0 for s in Severity if s > Severity.NONE}
        by_severity.update({Severity(k): n for k, n in grouped("severity")})
        by_check = {Check(k): n for k, n in grouped("check_name")}
        totals = cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE status = 'open') FROM quality_events "
            f"WHERE {where}",
            params,
        ).fetchone()
        batch_where = where.replace("created_at", "b.created_at")
        batches = cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE decision = 'quarantined') "
            f"FROM quality_batches b WHERE {batch_where}",
            params,
        ).fetchone()
        newest = self.list_events(
            EventFilter(min_severity=Severity.HIGH, created_start=start, created_end=end),
            page_size=latest,
        ).events
        return QualitySummary(
            start=f.created_start,
            end=f.created_end,
            total=int(totals[0]) if totals else 0,
            open=int(totals[1]) if totals else 0,
            by_severity=by_severity,
            by_check=by_check,
            by_symbol=dict(grouped("symbol", top_symbols)),
            by_decision={IngestDecision(k): n for k, n in grouped("decision")},
            batches=int(batches[0]) if batches else 0,
            quarantined_batches=int(batches[1]) if batches else 0,
            latest=newest,
            pending_webhooks=outbox.stats(cursor).pending,
        )

    def outbox_stats(self) -> outbox.OutboxStats:
        return outbox.stats(self.cursor())
