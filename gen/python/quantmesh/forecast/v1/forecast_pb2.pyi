import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ForecastMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORECAST_METHOD_UNSPECIFIED: _ClassVar[ForecastMethod]
    FORECAST_METHOD_BOOTSTRAP: _ClassVar[ForecastMethod]
    FORECAST_METHOD_QUANTILE_REGRESSION: _ClassVar[ForecastMethod]
    FORECAST_METHOD_PROPHET: _ClassVar[ForecastMethod]

class Kpi(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KPI_UNSPECIFIED: _ClassVar[Kpi]
    KPI_CUMULATIVE_RETURN: _ClassVar[Kpi]
    KPI_MAX_DRAWDOWN: _ClassVar[Kpi]
    KPI_SHARPE: _ClassVar[Kpi]
FORECAST_METHOD_UNSPECIFIED: ForecastMethod
FORECAST_METHOD_BOOTSTRAP: ForecastMethod
FORECAST_METHOD_QUANTILE_REGRESSION: ForecastMethod
FORECAST_METHOD_PROPHET: ForecastMethod
KPI_UNSPECIFIED: Kpi
KPI_CUMULATIVE_RETURN: Kpi
KPI_MAX_DRAWDOWN: Kpi
KPI_SHARPE: Kpi

class ReturnSeries(_message.Message):
    __slots__ = ("returns", "times")
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    returns: _containers.RepeatedScalarFieldContainer[float]
    times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, returns: _Optional[_Iterable[float]] = ..., times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class PercentileValue(_message.Message):
    __slots__ = ("percentile", "value")
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    percentile: float
    value: float
    def __init__(self, percentile: _Optional[float] = ..., value: _Optional[float] = ...) -> None: ...

class KpiBands(_message.Message):
    __slots__ = ("kpi", "values", "mean")
    KPI_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    kpi: Kpi
    values: _containers.RepeatedCompositeFieldContainer[PercentileValue]
    mean: float
    def __init__(self, kpi: _Optional[_Union[Kpi, str]] = ..., values: _Optional[_Iterable[_Union[PercentileValue, _Mapping]]] = ..., mean: _Optional[float] = ...) -> None: ...

class PathBand(_message.Message):
    __slots__ = ("percentile", "cumulative_returns")
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_RETURNS_FIELD_NUMBER: _ClassVar[int]
    percentile: float
    cumulative_returns: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, percentile: _Optional[float] = ..., cumulative_returns: _Optional[_Iterable[float]] = ...) -> None: ...

class MethodForecast(_message.Message):
    __slots__ = ("method", "kpis", "path_bands", "paths", "mean_block_length", "detail", "returns_used")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    PATH_BANDS_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    MEAN_BLOCK_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RETURNS_USED_FIELD_NUMBER: _ClassVar[int]
    method: ForecastMethod
    kpis: _containers.RepeatedCompositeFieldContainer[KpiBands]
    path_bands: _containers.RepeatedCompositeFieldContainer[PathBand]
    paths: int
    mean_block_length: float
    detail: str
    returns_used: int
    def __init__(self, method: _Optional[_Union[ForecastMethod, str]] = ..., kpis: _Optional[_Iterable[_Union[KpiBands, _Mapping]]] = ..., path_bands: _Optional[_Iterable[_Union[PathBand, _Mapping]]] = ..., paths: _Optional[int] = ..., mean_block_length: _Optional[float] = ..., detail: _Optional[str] = ..., returns_used: _Optional[int] = ...) -> None: ...

class ForecastKpisRequest(_message.Message):
    __slots__ = ("series", "backtest_id", "horizon", "percentiles", "methods", "paths", "seed", "mean_block_length", "periods_per_year", "lookback")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    BACKTEST_ID_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    PERCENTILES_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MEAN_BLOCK_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_FIELD_NUMBER: _ClassVar[int]
    series: ReturnSeries
    backtest_id: str
    horizon: int
    percentiles: _containers.RepeatedScalarFieldContainer[float]
    methods: _containers.RepeatedScalarFieldContainer[ForecastMethod]
    paths: int
    seed: int
    mean_block_length: float
    periods_per_year: int
    lookback: int
    def __init__(self, series: _Optional[_Union[ReturnSeries, _Mapping]] = ..., backtest_id: _Optional[str] = ..., horizon: _Optional[int] = ..., percentiles: _Optional[_Iterable[float]] = ..., methods: _Optional[_Iterable[_Union[ForecastMethod, str]]] = ..., paths: _Optional[int] = ..., seed: _Optional[int] = ..., mean_block_length: _Optional[float] = ..., periods_per_year: _Optional[int] = ..., lookback: _Optional[int] = ...) -> None: ...

class ForecastKpisResponse(_message.Message):
    __slots__ = ("forecasts", "horizon", "percentiles", "history_length", "origin_time")
    FORECASTS_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    PERCENTILES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_TIME_FIELD_NUMBER: _ClassVar[int]
    forecasts: _containers.RepeatedCompositeFieldContainer[MethodForecast]
    horizon: int
    percentiles: _containers.RepeatedScalarFieldContainer[float]
    history_length: int
    origin_time: _timestamp_pb2.Timestamp
    def __init__(self, forecasts: _Optional[_Iterable[_Union[MethodForecast, _Mapping]]] = ..., horizon: _Optional[int] = ..., percentiles: _Optional[_Iterable[float]] = ..., history_length: _Optional[int] = ..., origin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Band(_message.Message):
    __slots__ = ("lower_percentile", "upper_percentile")
    LOWER_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    UPPER_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    lower_percentile: float
    upper_percentile: float
    def __init__(self, lower_percentile: _Optional[float] = ..., upper_percentile: _Optional[float] = ...) -> None: ...

class EvaluateCalibrationRequest(_message.Message):
    __slots__ = ("series", "backtest_id", "horizons", "methods", "percentiles", "bands", "kpis", "min_history", "origin_step", "paths", "seed", "mean_block_length", "periods_per_year", "lookback")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    BACKTEST_ID_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    PERCENTILES_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    MIN_HISTORY_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_STEP_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MEAN_BLOCK_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_FIELD_NUMBER: _ClassVar[int]
    series: ReturnSeries
    backtest_id: str
    horizons: _containers.RepeatedScalarFieldContainer[int]
    methods: _containers.RepeatedScalarFieldContainer[ForecastMethod]
    percentiles: _containers.RepeatedScalarFieldContainer[float]
    bands: _containers.RepeatedCompositeFieldContainer[Band]
    kpis: _containers.RepeatedScalarFieldContainer[Kpi]
    min_history: int
    origin_step: int
    paths: int
    seed: int
    mean_block_length: float
    periods_per_year: int
    lookback: int
    def __init__(self, series: _Optional[_Union[ReturnSeries, _Mapping]] = ..., backtest_id: _Optional[str] = ..., horizons: _Optional[_Iterable[int]] = ..., methods: _Optional[_Iterable[_Union[ForecastMethod, str]]] = ..., percentiles: _Optional[_Iterable[float]] = ..., bands: _Optional[_Iterable[_Union[Band, _Mapping]]] = ..., kpis: _Optional[_Iterable[_Union[Kpi, str]]] = ..., min_history: _Optional[int] = ..., origin_step: _Optional[int] = ..., paths: _Optional[int] = ..., seed: _Optional[int] = ..., mean_block_length: _Optional[float] = ..., periods_per_year: _Optional[int] = ..., lookback: _Optional[int] = ...) -> None: ...

class BandCoverage(_message.Message):
    __slots__ = ("band", "coverage", "mean_width")
    BAND_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    MEAN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    band: Band
    coverage: float
    mean_width: float
    def __init__(self, band: _Optional[_Union[Band, _Mapping]] = ..., coverage: _Optional[float] = ..., mean_width: _Optional[float] = ...) -> None: ...

class QuantileLoss(_message.Message):
    __slots__ = ("percentile", "pinball_loss", "hit_rate")
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    PINBALL_LOSS_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    percentile: float
    pinball_loss: float
    hit_rate: float
    def __init__(self, percentile: _Optional[float] = ..., pinball_loss: _Optional[float] = ..., hit_rate: _Optional[float] = ...) -> None: ...

class CalibrationResult(_message.Message):
    __slots__ = ("method", "horizon", "kpi", "origins", "bands", "quantiles", "mean_pinball_loss")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    KPI_FIELD_NUMBER: _ClassVar[int]
    ORIGINS_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    MEAN_PINBALL_LOSS_FIELD_NUMBER: _ClassVar[int]
    method: ForecastMethod
    horizon: int
    kpi: Kpi
    origins: int
    bands: _containers.RepeatedCompositeFieldContainer[BandCoverage]
    quantiles: _containers.RepeatedCompositeFieldContainer[QuantileLoss]
    mean_pinball_loss: float
    def __init__(self, method: _Optional[_Union[ForecastMethod, str]] = ..., horizon: _Optional[int] = ..., kpi: _Optional[_Union[Kpi, str]] = ..., origins: _Optional[int] = ..., bands: _Optional[_Iterable[_Union[BandCoverage, _Mapping]]] = ..., quantiles: _Optional[_Iterable[_Union[QuantileLoss, _Mapping]]] = ..., mean_pinball_loss: _Optional[float] = ...) -> None: ...

class EvaluateCalibrationResponse(_message.Message):
    __slots__ = ("results", "origins", "history_length")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ORIGINS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CalibrationResult]
    origins: _containers.RepeatedScalarFieldContainer[int]
    history_length: int
    def __init__(self, results: _Optional[_Iterable[_Union[CalibrationResult, _Mapping]]] = ..., origins: _Optional[_Iterable[int]] = ..., history_length: _Optional[int] = ...) -> None: ...
