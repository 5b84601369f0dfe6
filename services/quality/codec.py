"""Protobuf <-> domain conversions for the quality service, shared by servicer and client."""

from __future__ import annotations

from quantmesh.quality.v1 import quality_pb2 as pb

from services.quality.domain.events import DataQualityEvent, EventStatus, QualitySummary
from services.quality.domain.findings import Check, Reason, RowAssessment, Severity
from services.quality.domain.report import IngestDecision
from services.runtime.errors import InvalidArgument
from services.runtime.time_convert import to_timestamp

_SEVERITY_TO_PB = {
    Severity.NONE: pb.SEVERITY_UNSPECIFIED,
    Severity.LOW: pb.SEVERITY_LOW,
    Severity.MEDIUM: pb.SEVERITY_MEDIUM,
    Severity.HIGH: pb.SEVERITY_HIGH,
    Severity.CRITICAL: pb.SEVERITY_CRITICAL,
}
_SEVERITY_FROM_PB = {v: k for k, v in _SEVERITY_TO_PB.items()}
_DECISION_TO_PB = {
    IngestDecision.COMMITTED: pb.BATCH_DECISION_COMMIT,
    IngestDecision.QUARANTINED: pb.BATCH_DECISION_QUARANTINE,
    IngestDecision.FORCED: pb.BATCH_DECISION_COMMIT_FORCED,
    IngestDecision.CHECKED: pb.BATCH_DECISION_DRY_RUN,
    IngestDecision.REJECTED: pb.BATCH_DECISION_UNSPECIFIED,
}
_DECISION_FROM_PB = {
    pb.BATCH_DECISION_COMMIT: IngestDecision.COMMITTED,
    pb.BATCH_DECISION_QUARANTINE: IngestDecision.QUARANTINED,
    pb.BATCH_DECISION_COMMIT_FORCED: IngestDecision.FORCED,
    pb.BATCH_DECISION_DRY_RUN: IngestDecision.CHECKED,
}
_STATUS_TO_PB = {
    EventStatus.OPEN: pb.EVENT_STATUS_OPEN,
    EventStatus.ACKNOWLEDGED: pb.EVENT_STATUS_ACKNOWLEDGED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}


def severity_to_pb(severity: Severity) -> pb.Severity:
    return _SEVERITY_TO_PB[Severity(severity)]


def severity_from_pb(value: int, field: str = "min_severity") -> Severity:
    if value not in _SEVERITY_FROM_PB:
        raise InvalidArgument.for_field(field, f"unknown severity {value}")
    return _SEVERITY_FROM_PB[value]  # type: ignore[index]


def status_from_pb(value: int) -> EventStatus | None:
    if value == pb.EVENT_STATUS_UNSPECIFIED:
        return None
    if value not in _STATUS_FROM_PB:
        raise InvalidArgument.for_field("status", f"unknown status {value}")
    return _STATUS_FROM_PB[value]  # type: ignore[index]


def decision_to_pb(decision: IngestDecision) -> pb.BatchDecision:
    return _DECISION_TO_PB[decision]


def decision_from_pb(value: int) -> IngestDecision:
    return _DECISION_FROM_PB.get(value, IngestDecision.REJECTED)  # type: ignore[call-overload, no-any-return]


def reason_to_pb(reason: Reason) -> pb.Reason:
    return pb.Reason(
        check=reason.check.value,
        score=reason.score,
        severity=severity_to_pb(reason.severity),
        detail=reason.detail,
    )


def reason_from_pb(message: pb.Reason) -> Reason:
    return Reason(
        Check.parse(message.check),
        message.score,
        _SEVERITY_FROM_PB.get(message.severity, Severity.NONE),  # type: ignore[call-overload]
        message.detail,
    )


def finding_to_pb(row: RowAssessment) -> pb.Finding:
    message = pb.Finding(
        symbol=row.symbol or "",
        score=row.score,
        severity=severity_to_pb(row.severity),
        check=row.check.value,
        reasons=[reason_to_pb(r) for r in row.reasons],
    )
    if row.time is not None:
        message.time.CopyFrom(to_timestamp(row.time))
    return message


def event_to_pb(event: DataQualityEvent) -> pb.DataQualityEvent:
    message = pb.DataQualityEvent(
        id=event.id,
        symbol=event.symbol,
        check=event.check.value,
        score=event.score,
        severity=severity_to_pb(event.severity),
        reasons=[reason_to_pb(r) for r in event.reasons],
        status=_STATUS_TO_PB[event.status],
        create_time=to_timestamp(event.created_at),
        batch_id=event.batch_id,
        decision=decision_to_pb(event.decision),
        acknowledged_by=event.acknowledged_by,
    )
    if event.time is not None:
        message.time.CopyFrom(to_timestamp(event.time))
    if event.acknowledged_at is not None:
        message.acknowledge_time.CopyFrom(to_timestamp(event.acknowledged_at))
    return message


def summary_to_pb(summary: QualitySummary) -> pb.GetQualitySummaryResponse:
    return pb.GetQualitySummaryResponse(
        total_events=summary.total,
        open_events=summary.open,
        by_severity=[
            pb.Count(key=s.name, count=n)
            for s, n in sorted(summary.by_severity.items(), key=lambda kv: -int(kv[0]))
        ],
        by_check=[
            pb.Count(key=c.value, count=n)
            for c, n in sorted(summary.by_check.items(), key=lambda kv: (-kv[1], kv[0].value))
        ],
        by_symbol=[
            pb.Count(key=s, count=n)
            for s, n in sorted(summary.by_symbol.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        latest_alerts=[event_to_pb(e) for e in summary.latest],
        quarantined_batches=summary.quarantined_batches,
        pending_webhooks=summary.pending_webhooks,
    )
