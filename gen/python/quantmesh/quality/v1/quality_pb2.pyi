import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quantmesh.common.v1 import arrow_pb2 as _arrow_pb2
from quantmesh.common.v1 import bar_pb2 as _bar_pb2
from quantmesh.common.v1 import time_range_pb2 as _time_range_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class BatchDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATCH_DECISION_UNSPECIFIED: _ClassVar[BatchDecision]
    BATCH_DECISION_COMMIT: _ClassVar[BatchDecision]
    BATCH_DECISION_QUARANTINE: _ClassVar[BatchDecision]
    BATCH_DECISION_COMMIT_FORCED: _ClassVar[BatchDecision]
    BATCH_DECISION_DRY_RUN: _ClassVar[BatchDecision]

class EventStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_STATUS_UNSPECIFIED: _ClassVar[EventStatus]
    EVENT_STATUS_OPEN: _ClassVar[EventStatus]
    EVENT_STATUS_ACKNOWLEDGED: _ClassVar[EventStatus]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
BATCH_DECISION_UNSPECIFIED: BatchDecision
BATCH_DECISION_COMMIT: BatchDecision
BATCH_DECISION_QUARANTINE: BatchDecision
BATCH_DECISION_COMMIT_FORCED: BatchDecision
BATCH_DECISION_DRY_RUN: BatchDecision
EVENT_STATUS_UNSPECIFIED: EventStatus
EVENT_STATUS_OPEN: EventStatus
EVENT_STATUS_ACKNOWLEDGED: EventStatus

class Reason(_message.Message):
    __slots__ = ("check", "score", "severity", "detail")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    check: str
    score: float
    severity: Severity
    detail: str
    def __init__(self, check: _Optional[str] = ..., score: _Optional[float] = ..., severity: _Optional[_Union[Severity, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("symbol", "time", "score", "severity", "check", "reasons")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    time: _timestamp_pb2.Timestamp
    score: float
    severity: Severity
    check: str
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    def __init__(self, symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ..., severity: _Optional[_Union[Severity, str]] = ..., check: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ...) -> None: ...

class CheckBatchRequest(_message.Message):
    __slots__ = ("frequency", "bars", "batch_id", "source", "force", "dry_run", "min_ingestion_time")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    MIN_INGESTION_TIME_FIELD_NUMBER: _ClassVar[int]
    frequency: _bar_pb2.Frequency
    bars: _arrow_pb2.ArrowFrame
    batch_id: str
    source: str
    force: bool
    dry_run: bool
    min_ingestion_time: _timestamp_pb2.Timestamp
    def __init__(self, frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., bars: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ..., batch_id: _Optional[str] = ..., source: _Optional[str] = ..., force: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., min_ingestion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckBatchResponse(_message.Message):
    __slots__ = ("findings", "max_severity", "decision", "event_ids", "rows_checked", "summary")
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    MAX_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    max_severity: Severity
    decision: BatchDecision
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    rows_checked: int
    summary: str
    def __init__(self, findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., max_severity: _Optional[_Union[Severity, str]] = ..., decision: _Optional[_Union[BatchDecision, str]] = ..., event_ids: _Optional[_Iterable[str]] = ..., rows_checked: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...

class SeriesPoint(_message.Message):
    __slots__ = ("time", "value")
    TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    value: float
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[float] = ...) -> None: ...

class ScoredPoint(_message.Message):
    __slots__ = ("time", "value", "score", "severity", "reasons")
    TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    value: float
    score: float
    severity: Severity
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[float] = ..., score: _Optional[float] = ..., severity: _Optional[_Union[Severity, str]] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ...) -> None: ...

class ScoreSeriesRequest(_message.Message):
    __slots__ = ("name", "points")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    points: _containers.RepeatedCompositeFieldContainer[SeriesPoint]
    def __init__(self, name: _Optional[str] = ..., points: _Optional[_Iterable[_Union[SeriesPoint, _Mapping]]] = ...) -> None: ...

class ScoreSeriesResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[ScoredPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[ScoredPoint, _Mapping]]] = ...) -> None: ...

class DataQualityEvent(_message.Message):
    __slots__ = ("id", "symbol", "time", "check", "score", "severity", "reasons", "status", "create_time", "acknowledge_time", "batch_id", "decision", "acknowledged_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_TIME_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    symbol: str
    time: _timestamp_pb2.Timestamp
    check: str
    score: float
    severity: Severity
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    status: EventStatus
    create_time: _timestamp_pb2.Timestamp
    acknowledge_time: _timestamp_pb2.Timestamp
    batch_id: str
    decision: BatchDecision
    acknowledged_by: str
    def __init__(self, id: _Optional[str] = ..., symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., check: _Optional[str] = ..., score: _Optional[float] = ..., severity: _Optional[_Union[Severity, str]] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., status: _Optional[_Union[EventStatus, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledge_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., decision: _Optional[_Union[BatchDecision, str]] = ..., acknowledged_by: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("symbol", "check", "min_severity", "status", "time_range", "page_size", "page_token")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    check: str
    min_severity: Severity
    status: EventStatus
    time_range: _time_range_pb2.TimeRange
    page_size: int
    page_token: str
    def __init__(self, symbol: _Optional[str] = ..., check: _Optional[str] = ..., min_severity: _Optional[_Union[Severity, str]] = ..., status: _Optional[_Union[EventStatus, str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[DataQualityEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[DataQualityEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetQualitySummaryRequest(_message.Message):
    __slots__ = ("window", "latest_alerts")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    LATEST_ALERTS_FIELD_NUMBER: _ClassVar[int]
    window: _time_range_pb2.TimeRange
    latest_alerts: int
    def __init__(self, window: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., latest_alerts: _Optional[int] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("key", "count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    def __init__(self, key: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GetQualitySummaryResponse(_message.Message):
    __slots__ = ("total_events", "open_events", "by_severity", "by_check", "by_symbol", "latest_alerts", "quarantined_batches", "pending_webhooks")
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    OPEN_EVENTS_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    BY_CHECK_FIELD_NUMBER: _ClassVar[int]
    BY_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LATEST_ALERTS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_BATCHES_FIELD_NUMBER: _ClassVar[int]
    PENDING_WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    total_events: int
    open_events: int
    by_severity: _containers.RepeatedCompositeFieldContainer[Count]
    by_check: _containers.RepeatedCompositeFieldContainer[Count]
    by_symbol: _containers.RepeatedCompositeFieldContainer[Count]
    latest_alerts: _containers.RepeatedCompositeFieldContainer[DataQualityEvent]
    quarantined_batches: int
    pending_webhooks: int
    def __init__(self, total_events: _Optional[int] = ..., open_events: _Optional[int] = ..., by_severity: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., by_check: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., by_symbol: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., latest_alerts: _Optional[_Iterable[_Union[DataQualityEvent, _Mapping]]] = ..., quarantined_batches: _Optional[int] = ..., pending_webhooks: _Optional[int] = ...) -> None: ...

class AcknowledgeEventRequest(_message.Message):
    __slots__ = ("id", "acknowledged_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    acknowledged_by: str
    def __init__(self, id: _Optional[str] = ..., acknowledged_by: _Optional[str] = ...) -> None: ...

class AcknowledgeEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: DataQualityEvent
    def __init__(self, event: _Optional[_Union[DataQualityEvent, _Mapping]] = ...) -> None: ...

class RefitModelsRequest(_message.Message):
    __slots__ = ("symbols", "frequency")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    frequency: _bar_pb2.Frequency
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ...) -> None: ...

class RefitModelsResponse(_message.Message):
    __slots__ = ("symbols", "skipped")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    skipped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., skipped: _Optional[_Iterable[str]] = ...) -> None: ...
