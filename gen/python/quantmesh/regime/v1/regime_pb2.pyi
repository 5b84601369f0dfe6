import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quantmesh.common.v1 import arrow_pb2 as _arrow_pb2
from quantmesh.common.v1 import model_ref_pb2 as _model_ref_pb2
from quantmesh.common.v1 import time_range_pb2 as _time_range_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Regime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGIME_UNSPECIFIED: _ClassVar[Regime]
    REGIME_CALM_UPTREND: _ClassVar[Regime]
    REGIME_RANGE_BOUND: _ClassVar[Regime]
    REGIME_DOWNTREND: _ClassVar[Regime]
    REGIME_HIGH_VOL_STRESS: _ClassVar[Regime]

class CacheState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_STATE_UNSPECIFIED: _ClassVar[CacheState]
    CACHE_STATE_HEALTHY: _ClassVar[CacheState]
    CACHE_STATE_DEGRADED: _ClassVar[CacheState]
    CACHE_STATE_DISABLED: _ClassVar[CacheState]
REGIME_UNSPECIFIED: Regime
REGIME_CALM_UPTREND: Regime
REGIME_RANGE_BOUND: Regime
REGIME_DOWNTREND: Regime
REGIME_HIGH_VOL_STRESS: Regime
CACHE_STATE_UNSPECIFIED: CacheState
CACHE_STATE_HEALTHY: CacheState
CACHE_STATE_DEGRADED: CacheState
CACHE_STATE_DISABLED: CacheState

class RegimeProbability(_message.Message):
    __slots__ = ("regime", "probability")
    REGIME_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    regime: Regime
    probability: float
    def __init__(self, regime: _Optional[_Union[Regime, str]] = ..., probability: _Optional[float] = ...) -> None: ...

class RegimeModel(_message.Message):
    __slots__ = ("name", "version", "symbols", "training_window", "feature_version", "fitted_at", "aliases", "warmup_bars", "median_duration_sessions", "regime_shares", "switch_probability", "data_watermark")
    class RegimeSharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_WINDOW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FITTED_AT_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    WARMUP_BARS_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_DURATION_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    REGIME_SHARES_FIELD_NUMBER: _ClassVar[int]
    SWITCH_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    DATA_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    symbols: _containers.RepeatedScalarFieldContainer[str]
    training_window: _time_range_pb2.TimeRange
    feature_version: str
    fitted_at: _timestamp_pb2.Timestamp
    aliases: _containers.RepeatedScalarFieldContainer[str]
    warmup_bars: int
    median_duration_sessions: float
    regime_shares: _containers.ScalarMap[str, float]
    switch_probability: float
    data_watermark: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., symbols: _Optional[_Iterable[str]] = ..., training_window: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., feature_version: _Optional[str] = ..., fitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aliases: _Optional[_Iterable[str]] = ..., warmup_bars: _Optional[int] = ..., median_duration_sessions: _Optional[float] = ..., regime_shares: _Optional[_Mapping[str, float]] = ..., switch_probability: _Optional[float] = ..., data_watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FitRegimeModelRequest(_message.Message):
    __slots__ = ("name", "symbols", "training_window", "alias", "switch_probability")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_WINDOW_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    SWITCH_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    training_window: _time_range_pb2.TimeRange
    alias: str
    switch_probability: float
    def __init__(self, name: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., training_window: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., alias: _Optional[str] = ..., switch_probability: _Optional[float] = ...) -> None: ...

class FitRegimeModelResponse(_message.Message):
    __slots__ = ("model", "created")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    model: RegimeModel
    created: bool
    def __init__(self, model: _Optional[_Union[RegimeModel, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListRegimeModelsRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRegimeModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[RegimeModel]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[RegimeModel, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ClassifyRegimeRequest(_message.Message):
    __slots__ = ("symbol", "time", "model")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    time: _timestamp_pb2.Timestamp
    model: _model_ref_pb2.ModelRef
    def __init__(self, symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ...) -> None: ...

class ClassifyRegimeResponse(_message.Message):
    __slots__ = ("symbol", "bar_time", "regime", "probabilities", "model_name", "model_version", "feature_version", "cached")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BAR_TIME_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bar_time: _timestamp_pb2.Timestamp
    regime: Regime
    probabilities: _containers.RepeatedCompositeFieldContainer[RegimeProbability]
    model_name: str
    model_version: int
    feature_version: str
    cached: bool
    def __init__(self, symbol: _Optional[str] = ..., bar_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., regime: _Optional[_Union[Regime, str]] = ..., probabilities: _Optional[_Iterable[_Union[RegimeProbability, _Mapping]]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., feature_version: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class GetRegimeHistoryRequest(_message.Message):
    __slots__ = ("symbols", "time_range", "model")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    time_range: _time_range_pb2.TimeRange
    model: _model_ref_pb2.ModelRef
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ...) -> None: ...

class GetRegimeHistoryResponse(_message.Message):
    __slots__ = ("frame", "model_name", "model_version", "feature_version")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    frame: _arrow_pb2.ArrowFrame
    model_name: str
    model_version: int
    feature_version: str
    def __init__(self, frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., feature_version: _Optional[str] = ...) -> None: ...

class WatchRegimeRequest(_message.Message):
    __slots__ = ("symbols", "model", "resume_after", "heartbeat_interval_ms")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    model: _model_ref_pb2.ModelRef
    resume_after: int
    heartbeat_interval_ms: int
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., resume_after: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class RegimeChange(_message.Message):
    __slots__ = ("symbol", "bar_time", "regime", "previous", "probabilities")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BAR_TIME_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bar_time: _timestamp_pb2.Timestamp
    regime: Regime
    previous: Regime
    probabilities: _containers.RepeatedCompositeFieldContainer[RegimeProbability]
    def __init__(self, symbol: _Optional[str] = ..., bar_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., regime: _Optional[_Union[Regime, str]] = ..., previous: _Optional[_Union[Regime, str]] = ..., probabilities: _Optional[_Iterable[_Union[RegimeProbability, _Mapping]]] = ...) -> None: ...

class RegimeChanges(_message.Message):
    __slots__ = ("changes", "model_name", "model_version", "snapshot")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[RegimeChange]
    model_name: str
    model_version: int
    snapshot: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[RegimeChange, _Mapping]]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., snapshot: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchRegimeResponse(_message.Message):
    __slots__ = ("sequence", "cursor", "changes", "heartbeat")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    cursor: int
    changes: RegimeChanges
    heartbeat: Heartbeat
    def __init__(self, sequence: _Optional[int] = ..., cursor: _Optional[int] = ..., changes: _Optional[_Union[RegimeChanges, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class GetCacheStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCacheStatsResponse(_message.Message):
    __slots__ = ("hits", "misses", "invalidated", "errors", "hit_rate", "hit_p50_ms", "hit_p99_ms", "miss_p50_ms", "miss_p99_ms", "state", "degraded_since", "last_error", "ingest_watermark", "writes", "memory_hits")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    INVALIDATED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    HIT_P50_MS_FIELD_NUMBER: _ClassVar[int]
    HIT_P99_MS_FIELD_NUMBER: _ClassVar[int]
    MISS_P50_MS_FIELD_NUMBER: _ClassVar[int]
    MISS_P99_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_SINCE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    INGEST_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_HITS_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    invalidated: int
    errors: int
    hit_rate: float
    hit_p50_ms: float
    hit_p99_ms: float
    miss_p50_ms: float
    miss_p99_ms: float
    state: CacheState
    degraded_since: _timestamp_pb2.Timestamp
    last_error: str
    ingest_watermark: _timestamp_pb2.Timestamp
    writes: int
    memory_hits: int
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ..., invalidated: _Optional[int] = ..., errors: _Optional[int] = ..., hit_rate: _Optional[float] = ..., hit_p50_ms: _Optional[float] = ..., hit_p99_ms: _Optional[float] = ..., miss_p50_ms: _Optional[float] = ..., miss_p99_ms: _Optional[float] = ..., state: _Optional[_Union[CacheState, str]] = ..., degraded_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., ingest_watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., writes: _Optional[int] = ..., memory_hits: _Optional[int] = ...) -> None: ...
