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

class Objective(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECTIVE_UNSPECIFIED: _ClassVar[Objective]
    OBJECTIVE_CLASSIFIER: _ClassVar[Objective]
    OBJECTIVE_REGRESSOR: _ClassVar[Objective]
OBJECTIVE_UNSPECIFIED: Objective
OBJECTIVE_CLASSIFIER: Objective
OBJECTIVE_REGRESSOR: Objective

class TrainModelRequest(_message.Message):
    __slots__ = ("model_name", "feature_view", "feature_version", "label", "objective", "symbols", "time_range", "folds", "embargo_bars", "params", "alias", "request_id")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    EMBARGO_BARS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    feature_view: str
    feature_version: str
    label: str
    objective: Objective
    symbols: _containers.RepeatedScalarFieldContainer[str]
    time_range: _time_range_pb2.TimeRange
    folds: int
    embargo_bars: int
    params: _containers.ScalarMap[str, float]
    alias: str
    request_id: str
    def __init__(self, model_name: _Optional[str] = ..., feature_view: _Optional[str] = ..., feature_version: _Optional[str] = ..., label: _Optional[str] = ..., objective: _Optional[_Union[Objective, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., folds: _Optional[int] = ..., embargo_bars: _Optional[int] = ..., params: _Optional[_Mapping[str, float]] = ..., alias: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class TrainModelResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: str
    def __init__(self, operation: _Optional[str] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("ic", "rank_ic", "icir", "hit_rate", "auc", "log_loss", "rows", "dates")
    IC_FIELD_NUMBER: _ClassVar[int]
    RANK_IC_FIELD_NUMBER: _ClassVar[int]
    ICIR_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    AUC_FIELD_NUMBER: _ClassVar[int]
    LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DATES_FIELD_NUMBER: _ClassVar[int]
    ic: float
    rank_ic: float
    icir: float
    hit_rate: float
    auc: float
    log_loss: float
    rows: int
    dates: int
    def __init__(self, ic: _Optional[float] = ..., rank_ic: _Optional[float] = ..., icir: _Optional[float] = ..., hit_rate: _Optional[float] = ..., auc: _Optional[float] = ..., log_loss: _Optional[float] = ..., rows: _Optional[int] = ..., dates: _Optional[int] = ...) -> None: ...

class FoldReport(_message.Message):
    __slots__ = ("fold", "train", "test", "best_iteration", "metrics")
    FOLD_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    BEST_ITERATION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    fold: int
    train: _time_range_pb2.TimeRange
    test: _time_range_pb2.TimeRange
    best_iteration: int
    metrics: Metrics
    def __init__(self, fold: _Optional[int] = ..., train: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., test: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., best_iteration: _Optional[int] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class TrainingReport(_message.Message):
    __slots__ = ("model", "overall", "folds", "warnings")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    overall: Metrics
    folds: _containers.RepeatedCompositeFieldContainer[FoldReport]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., overall: _Optional[_Union[Metrics, _Mapping]] = ..., folds: _Optional[_Iterable[_Union[FoldReport, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "aliases", "feature_view", "feature_version", "data_watermark", "label", "objective", "training_window", "metrics", "data_hash", "run_id", "create_time", "features")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_WINDOW_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DATA_HASH_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    feature_view: str
    feature_version: str
    data_watermark: _timestamp_pb2.Timestamp
    label: str
    objective: Objective
    training_window: _time_range_pb2.TimeRange
    metrics: Metrics
    data_hash: str
    run_id: str
    create_time: _timestamp_pb2.Timestamp
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ..., feature_view: _Optional[str] = ..., feature_version: _Optional[str] = ..., data_watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., label: _Optional[str] = ..., objective: _Optional[_Union[Objective, str]] = ..., training_window: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., data_hash: _Optional[str] = ..., run_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("model", "symbol", "time")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    model: _model_ref_pb2.ModelRef
    symbol: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("symbol", "time", "score", "model")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    time: _timestamp_pb2.Timestamp
    score: float
    model: ModelInfo
    def __init__(self, symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("model", "rows")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    model: _model_ref_pb2.ModelRef
    rows: _arrow_pb2.ArrowFrame
    def __init__(self, model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., rows: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("scores", "model_name", "model_version", "feature_version")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    scores: _arrow_pb2.ArrowFrame
    model_name: str
    model_version: int
    feature_version: str
    def __init__(self, scores: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., feature_version: _Optional[str] = ...) -> None: ...

class ExplainPredictionRequest(_message.Message):
    __slots__ = ("model", "symbol", "time", "top")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    model: _model_ref_pb2.ModelRef
    symbol: str
    time: _timestamp_pb2.Timestamp
    top: int
    def __init__(self, model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., top: _Optional[int] = ...) -> None: ...

class Contribution(_message.Message):
    __slots__ = ("feature", "value", "contribution")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    feature: str
    value: float
    contribution: float
    def __init__(self, feature: _Optional[str] = ..., value: _Optional[float] = ..., contribution: _Optional[float] = ...) -> None: ...

class ExplainPredictionResponse(_message.Message):
    __slots__ = ("symbol", "time", "score", "raw_score", "bias", "contributions", "model")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RAW_SCORE_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    time: _timestamp_pb2.Timestamp
    score: float
    raw_score: float
    bias: float
    contributions: _containers.RepeatedCompositeFieldContainer[Contribution]
    model: ModelInfo
    def __init__(self, symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ..., raw_score: _Optional[float] = ..., bias: _Optional[float] = ..., contributions: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PromoteModelRequest(_message.Message):
    __slots__ = ("name", "version", "alias")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    alias: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ...) -> None: ...

class PromoteModelResponse(_message.Message):
    __slots__ = ("model", "previous_version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    previous_version: int
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., previous_version: _Optional[int] = ...) -> None: ...

class SubscribeSignalsRequest(_message.Message):
    __slots__ = ("model", "symbols", "resume_after", "heartbeat_interval_ms")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    model: _model_ref_pb2.ModelRef
    symbols: _containers.RepeatedScalarFieldContainer[str]
    resume_after: int
    heartbeat_interval_ms: int
    def __init__(self, model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., symbols: _Optional[_Iterable[str]] = ..., resume_after: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("symbol", "score")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    score: float
    def __init__(self, symbol: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class SignalBatch(_message.Message):
    __slots__ = ("bar_time", "signals", "model_name", "model_version", "feature_version")
    BAR_TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    bar_time: _timestamp_pb2.Timestamp
    signals: _containers.RepeatedCompositeFieldContainer[Signal]
    model_name: str
    model_version: int
    feature_version: str
    def __init__(self, bar_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signals: _Optional[_Iterable[_Union[Signal, _Mapping]]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., feature_version: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscribeSignalsResponse(_message.Message):
    __slots__ = ("sequence", "cursor", "signals", "heartbeat")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    cursor: int
    signals: SignalBatch
    heartbeat: Heartbeat
    def __init__(self, sequence: _Optional[int] = ..., cursor: _Optional[int] = ..., signals: _Optional[_Union[SignalBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...
