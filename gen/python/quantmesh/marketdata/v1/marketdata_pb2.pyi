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

class IngestOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_OUTCOME_UNSPECIFIED: _ClassVar[IngestOutcome]
    INGEST_OUTCOME_COMMITTED: _ClassVar[IngestOutcome]
    INGEST_OUTCOME_COMMITTED_UNCHECKED: _ClassVar[IngestOutcome]
    INGEST_OUTCOME_COMMITTED_FORCED: _ClassVar[IngestOutcome]
    INGEST_OUTCOME_QUARANTINED: _ClassVar[IngestOutcome]

class FeatureSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_SOURCE_UNSPECIFIED: _ClassVar[FeatureSource]
    FEATURE_SOURCE_MATERIALIZED: _ClassVar[FeatureSource]
    FEATURE_SOURCE_COMPUTED: _ClassVar[FeatureSource]
INGEST_OUTCOME_UNSPECIFIED: IngestOutcome
INGEST_OUTCOME_COMMITTED: IngestOutcome
INGEST_OUTCOME_COMMITTED_UNCHECKED: IngestOutcome
INGEST_OUTCOME_COMMITTED_FORCED: IngestOutcome
INGEST_OUTCOME_QUARANTINED: IngestOutcome
FEATURE_SOURCE_UNSPECIFIED: FeatureSource
FEATURE_SOURCE_MATERIALIZED: FeatureSource
FEATURE_SOURCE_COMPUTED: FeatureSource

class IngestBarsRequest(_message.Message):
    __slots__ = ("frequency", "source", "frame", "force")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    frequency: _bar_pb2.Frequency
    source: str
    frame: _arrow_pb2.ArrowFrame
    force: bool
    def __init__(self, frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., source: _Optional[str] = ..., frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class IngestBarsResponse(_message.Message):
    __slots__ = ("batch_id", "ingestion_time", "rows_received", "rows_inserted", "rows_revised", "rows_unchanged", "symbols", "quality_gate", "outcome", "quality_event_ids")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    INGESTION_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ROWS_INSERTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_REVISED_FIELD_NUMBER: _ClassVar[int]
    ROWS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_GATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    QUALITY_EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    ingestion_time: _timestamp_pb2.Timestamp
    rows_received: int
    rows_inserted: int
    rows_revised: int
    rows_unchanged: int
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolIngestSummary]
    quality_gate: str
    outcome: IngestOutcome
    quality_event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, batch_id: _Optional[str] = ..., ingestion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows_received: _Optional[int] = ..., rows_inserted: _Optional[int] = ..., rows_revised: _Optional[int] = ..., rows_unchanged: _Optional[int] = ..., symbols: _Optional[_Iterable[_Union[SymbolIngestSummary, _Mapping]]] = ..., quality_gate: _Optional[str] = ..., outcome: _Optional[_Union[IngestOutcome, str]] = ..., quality_event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SymbolIngestSummary(_message.Message):
    __slots__ = ("symbol", "rows_received", "rows_inserted", "rows_revised", "rows_unchanged")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ROWS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ROWS_INSERTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_REVISED_FIELD_NUMBER: _ClassVar[int]
    ROWS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    rows_received: int
    rows_inserted: int
    rows_revised: int
    rows_unchanged: int
    def __init__(self, symbol: _Optional[str] = ..., rows_received: _Optional[int] = ..., rows_inserted: _Optional[int] = ..., rows_revised: _Optional[int] = ..., rows_unchanged: _Optional[int] = ...) -> None: ...

class GetBarsRequest(_message.Message):
    __slots__ = ("symbols", "frequency", "time_range", "as_of", "max_rows_per_chunk")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_PER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    frequency: _bar_pb2.Frequency
    time_range: _time_range_pb2.TimeRange
    as_of: _timestamp_pb2.Timestamp
    max_rows_per_chunk: int
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_rows_per_chunk: _Optional[int] = ...) -> None: ...

class GetBarsResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _arrow_pb2.ArrowFrame
    def __init__(self, frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...

class ListSymbolsRequest(_message.Message):
    __slots__ = ("frequency", "prefix", "page_size", "page_token")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    frequency: _bar_pb2.Frequency
    prefix: str
    page_size: int
    page_token: str
    def __init__(self, frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSymbolsResponse(_message.Message):
    __slots__ = ("symbols", "next_page_token")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolInfo]
    next_page_token: str
    def __init__(self, symbols: _Optional[_Iterable[_Union[SymbolInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SymbolInfo(_message.Message):
    __slots__ = ("symbol", "series")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    series: _containers.RepeatedCompositeFieldContainer[SeriesCoverage]
    def __init__(self, symbol: _Optional[str] = ..., series: _Optional[_Iterable[_Union[SeriesCoverage, _Mapping]]] = ...) -> None: ...

class SeriesCoverage(_message.Message):
    __slots__ = ("frequency", "first_time", "last_time", "row_count")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    frequency: _bar_pb2.Frequency
    first_time: _timestamp_pb2.Timestamp
    last_time: _timestamp_pb2.Timestamp
    row_count: int
    def __init__(self, frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., first_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., row_count: _Optional[int] = ...) -> None: ...

class WatchIngestsRequest(_message.Message):
    __slots__ = ("after", "frequency", "heartbeat_interval_ms")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    after: _timestamp_pb2.Timestamp
    frequency: _bar_pb2.Frequency
    heartbeat_interval_ms: int
    def __init__(self, after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class IngestNotice(_message.Message):
    __slots__ = ("batch_id", "ingestion_time", "frequency", "symbols", "first_time", "last_time", "rows_changed")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    INGESTION_TIME_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    ingestion_time: _timestamp_pb2.Timestamp
    frequency: _bar_pb2.Frequency
    symbols: _containers.RepeatedScalarFieldContainer[str]
    first_time: _timestamp_pb2.Timestamp
    last_time: _timestamp_pb2.Timestamp
    rows_changed: int
    def __init__(self, batch_id: _Optional[str] = ..., ingestion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., first_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows_changed: _Optional[int] = ...) -> None: ...

class WatchIngestsResponse(_message.Message):
    __slots__ = ("notice", "heartbeat_time")
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    notice: IngestNotice
    heartbeat_time: _timestamp_pb2.Timestamp
    def __init__(self, notice: _Optional[_Union[IngestNotice, _Mapping]] = ..., heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeatureView(_message.Message):
    __slots__ = ("name", "version", "definition_hash", "definition_json", "frequency", "features", "symbols", "watermark", "first_time", "last_time", "row_count", "symbol_count", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_HASH_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    definition_hash: str
    definition_json: str
    frequency: _bar_pb2.Frequency
    features: _containers.RepeatedScalarFieldContainer[str]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    watermark: _timestamp_pb2.Timestamp
    first_time: _timestamp_pb2.Timestamp
    last_time: _timestamp_pb2.Timestamp
    row_count: int
    symbol_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., definition_hash: _Optional[str] = ..., definition_json: _Optional[str] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., features: _Optional[_Iterable[str]] = ..., symbols: _Optional[_Iterable[str]] = ..., watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., row_count: _Optional[int] = ..., symbol_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MaterializeFeaturesRequest(_message.Message):
    __slots__ = ("view", "frequency", "symbols", "definition_json")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    view: str
    frequency: _bar_pb2.Frequency
    symbols: _containers.RepeatedScalarFieldContainer[str]
    definition_json: str
    def __init__(self, view: _Optional[str] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., definition_json: _Optional[str] = ...) -> None: ...

class MaterializeFeaturesResponse(_message.Message):
    __slots__ = ("view",)
    VIEW_FIELD_NUMBER: _ClassVar[int]
    view: FeatureView
    def __init__(self, view: _Optional[_Union[FeatureView, _Mapping]] = ...) -> None: ...

class ListFeatureViewsRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeatureViewsResponse(_message.Message):
    __slots__ = ("views", "next_page_token")
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    views: _containers.RepeatedCompositeFieldContainer[FeatureView]
    next_page_token: str
    def __init__(self, views: _Optional[_Iterable[_Union[FeatureView, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetFeaturesRequest(_message.Message):
    __slots__ = ("view", "version", "symbols", "time_range", "as_of", "features", "max_rows_per_chunk", "source")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_PER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    view: str
    version: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    time_range: _time_range_pb2.TimeRange
    as_of: _timestamp_pb2.Timestamp
    features: _containers.RepeatedScalarFieldContainer[str]
    max_rows_per_chunk: int
    source: FeatureSource
    def __init__(self, view: _Optional[str] = ..., version: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ..., max_rows_per_chunk: _Optional[int] = ..., source: _Optional[_Union[FeatureSource, str]] = ...) -> None: ...

class GetFeaturesResponse(_message.Message):
    __slots__ = ("view", "frame")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    view: FeatureView
    frame: _arrow_pb2.ArrowFrame
    def __init__(self, view: _Optional[_Union[FeatureView, _Mapping]] = ..., frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...

class GetLabelsRequest(_message.Message):
    __slots__ = ("symbols", "frequency", "time_range", "horizons", "as_of")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    frequency: _bar_pb2.Frequency
    time_range: _time_range_pb2.TimeRange
    horizons: _containers.RepeatedScalarFieldContainer[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., horizons: _Optional[_Iterable[int]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLabelsResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _arrow_pb2.ArrowFrame
    def __init__(self, frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...

class DeleteFeatureViewRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class DeleteFeatureViewResponse(_message.Message):
    __slots__ = ("view",)
    VIEW_FIELD_NUMBER: _ClassVar[int]
    view: FeatureView
    def __init__(self, view: _Optional[_Union[FeatureView, _Mapping]] = ...) -> None: ...
