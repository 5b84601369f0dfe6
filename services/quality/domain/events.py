"""Data-quality events: what is stored of a batch's findings, and how it is queried.

One event per batch row whose combined severity reaches the store's minimum: its primary check
(the strongest), every contributing check, the combined score and severity, and every reason.
So every finding at or above the minimum is stored, within its row's event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.findings import Check, Reason, Severity
from services.quality.domain.report import IngestDecision
from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import ensure_utc


class EventStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class DataQualityEvent:
    """A stored finding about one bar. Times are aware UTC; `time` is the bar's time."""

    id: str
    batch_id: str
    symbol: str
    frequency: Frequency
    time: datetime | None
    check: Check
    checks: tuple[Check, ...]
    score: float
    severity: Severity
    reasons: tuple[Reason, ...]
    status: EventStatus
    decision: IngestDecision
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601, enums by name/value), as webhooks send it."""
        return {
            "id": self.id,
            "batch_id": self.batch_id,
            "symbol": self.symbol,
            "frequency": self.frequency.value,
            "time": self.time.isoformat() if self.time else None,
            "check": self.check.value,
            "checks": [c.value for c in self.checks],
            "score": round(self.score, 6),
            "severity": self.severity.name,
            "reasons": [
                {
                    "check": r.check.value,
                    "score": round(r.score, 6),
                    "severity": r.severity.name,
                    "detail": r.detail,
                }
                for r in self.reasons
            ],
            "status": self.status.value,
            "decision": self.decision.value,
            "created_at": self.created_at.isoformat(),
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
        }


@dataclass(frozen=True)
class EventFilter:
    """Filters of list_events; empty fields do not filter.

    `check` matches the primary check; `start`/`end` bound the bar time ([start, end));
    `created_start`/`created_end` bound when the sentinel stored the event.
    """

    symbol: str = ""
    check: Check | None = None
    min_severity: Severity = Severity.NONE
    status: EventStatus | None = None
    start: datetime | None = None
    end: datetime | None = None
    created_start: datetime | None = None
    created_end: datetime | None = None
    batch_id: str = ""

    def normalized(self) -> EventFilter:
        """Symbol upper-cased, times in UTC; InvalidArgument for an empty time window."""
        start = ensure_utc(self.start) if self.start else None
        end = ensure_utc(self.end) if self.end else None
        created_start = ensure_utc(self.created_start) if self.created_start else None
        created_end = ensure_utc(self.created_end) if self.created_end else None
        for name, lo, hi in (
            ("time_range", start, end),
            ("created_range", created_start, created_end),
        ):
            if lo is not None and hi is not None and lo >= hi:
                raise InvalidArgument.for_field(
                    name, f"start {lo.isoformat()} is not before end {hi.isoformat()}"
                )
        return EventFilter(
            symbol=self.symbol.strip().upper(),
            check=self.check,
            min_severity=self.min_severity,
            status=self.status,
            start=start,
            end=end,
            created_start=created_start,
            created_end=created_end,
            batch_id=self.batch_id.strip(),
        )

    def fingerprint(self) -> dict[str, Any]:
        """The filter as plain values, to bind page tokens to it."""
        return {
            "symbol": self.symbol,
            "check": self.check.value if self.check else "",
            "min_severity": int(self.min_severity),
            "status": self.status.value if self.status else "",
            "start": self.start,
            "end": self.end,
            "created_start": self.created_start,
            "created_end": self.created_end,
            "batch_id": self.batch_id,
        }


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first; `next_page_token` is empty on the last page."""

    events: list[DataQualityEvent]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class QualitySummary:
    """The operations panel over a window of creation times.

    Every count counts each event once (`by_check` under its primary check). `latest` holds the
    newest HIGH and CRITICAL events; `pending_webhooks` the deliveries not yet accepted.
    """

    start: datetime | None
    end: datetime | None
    total: int
    open: int
    by_severity: dict[Severity, int]
    by_check: dict[Check, int]
    by_symbol: dict[str, int]
    by_decision: dict[IngestDecision, int]
    batches: int
    quarantined_batches: int
    latest: list[DataQualityEvent] = field(default_factory=list)
    pending_webhooks: int = 0
