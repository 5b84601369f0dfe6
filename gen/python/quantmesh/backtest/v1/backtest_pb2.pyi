import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quantmesh.common.v1 import arrow_pb2 as _arrow_pb2
from quantmesh.common.v1 import bar_pb2 as _bar_pb2
from quantmesh.common.v1 import model_ref_pb2 as _model_ref_pb2
from quantmesh.common.v1 import time_range_pb2 as _time_range_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RuleSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_SOURCE_UNSPECIFIED: _ClassVar[RuleSource]
    RULE_SOURCE_SIGNAL: _ClassVar[RuleSource]
    RULE_SOURCE_REGIME: _ClassVar[RuleSource]
    RULE_SOURCE_FEATURE: _ClassVar[RuleSource]
    RULE_SOURCE_PRICE: _ClassVar[RuleSource]

class RuleOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_OPERATOR_UNSPECIFIED: _ClassVar[RuleOperator]
    RULE_OPERATOR_GT: _ClassVar[RuleOperator]
    RULE_OPERATOR_LT: _ClassVar[RuleOperator]
    RULE_OPERATOR_GE: _ClassVar[RuleOperator]
    RULE_OPERATOR_LE: _ClassVar[RuleOperator]
    RULE_OPERATOR_EQ: _ClassVar[RuleOperator]
    RULE_OPERATOR_IN: _ClassVar[RuleOperator]
    RULE_OPERATOR_CROSSES_ABOVE: _ClassVar[RuleOperator]
    RULE_OPERATOR_CROSSES_BELOW: _ClassVar[RuleOperator]

class RuleCombine(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_COMBINE_UNSPECIFIED: _ClassVar[RuleCombine]
    RULE_COMBINE_ALL: _ClassVar[RuleCombine]
    RULE_COMBINE_ANY: _ClassVar[RuleCombine]

class SizingMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIZING_METHOD_UNSPECIFIED: _ClassVar[SizingMethod]
    SIZING_METHOD_EQUAL_WEIGHT: _ClassVar[SizingMethod]
    SIZING_METHOD_VOLATILITY_TARGET: _ClassVar[SizingMethod]
    SIZING_METHOD_SIGNAL_PROPORTIONAL: _ClassVar[SizingMethod]

class RebalanceFrequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REBALANCE_FREQUENCY_UNSPECIFIED: _ClassVar[RebalanceFrequency]
    REBALANCE_FREQUENCY_EVERY_BAR: _ClassVar[RebalanceFrequency]
    REBALANCE_FREQUENCY_DAILY: _ClassVar[RebalanceFrequency]
    REBALANCE_FREQUENCY_WEEKLY: _ClassVar[RebalanceFrequency]
    REBALANCE_FREQUENCY_MONTHLY: _ClassVar[RebalanceFrequency]

class FillPrice(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILL_PRICE_UNSPECIFIED: _ClassVar[FillPrice]
    FILL_PRICE_NEXT_OPEN: _ClassVar[FillPrice]
    FILL_PRICE_CLOSE: _ClassVar[FillPrice]

class BacktestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKTEST_STATE_UNSPECIFIED: _ClassVar[BacktestState]
    BACKTEST_STATE_PENDING: _ClassVar[BacktestState]
    BACKTEST_STATE_RUNNING: _ClassVar[BacktestState]
    BACKTEST_STATE_SUCCEEDED: _ClassVar[BacktestState]
    BACKTEST_STATE_FAILED: _ClassVar[BacktestState]
    BACKTEST_STATE_CANCELLED: _ClassVar[BacktestState]
RULE_SOURCE_UNSPECIFIED: RuleSource
RULE_SOURCE_SIGNAL: RuleSource
RULE_SOURCE_REGIME: RuleSource
RULE_SOURCE_FEATURE: RuleSource
RULE_SOURCE_PRICE: RuleSource
RULE_OPERATOR_UNSPECIFIED: RuleOperator
RULE_OPERATOR_GT: RuleOperator
RULE_OPERATOR_LT: RuleOperator
RULE_OPERATOR_GE: RuleOperator
RULE_OPERATOR_LE: RuleOperator
RULE_OPERATOR_EQ: RuleOperator
RULE_OPERATOR_IN: RuleOperator
RULE_OPERATOR_CROSSES_ABOVE: RuleOperator
RULE_OPERATOR_CROSSES_BELOW: RuleOperator
RULE_COMBINE_UNSPECIFIED: RuleCombine
RULE_COMBINE_ALL: RuleCombine
RULE_COMBINE_ANY: RuleCombine
SIZING_METHOD_UNSPECIFIED: SizingMethod
SIZING_METHOD_EQUAL_WEIGHT: SizingMethod
SIZING_METHOD_VOLATILITY_TARGET: SizingMethod
SIZING_METHOD_SIGNAL_PROPORTIONAL: SizingMethod
REBALANCE_FREQUENCY_UNSPECIFIED: RebalanceFrequency
REBALANCE_FREQUENCY_EVERY_BAR: RebalanceFrequency
REBALANCE_FREQUENCY_DAILY: RebalanceFrequency
REBALANCE_FREQUENCY_WEEKLY: RebalanceFrequency
REBALANCE_FREQUENCY_MONTHLY: RebalanceFrequency
FILL_PRICE_UNSPECIFIED: FillPrice
FILL_PRICE_NEXT_OPEN: FillPrice
FILL_PRICE_CLOSE: FillPrice
BACKTEST_STATE_UNSPECIFIED: BacktestState
BACKTEST_STATE_PENDING: BacktestState
BACKTEST_STATE_RUNNING: BacktestState
BACKTEST_STATE_SUCCEEDED: BacktestState
BACKTEST_STATE_FAILED: BacktestState
BACKTEST_STATE_CANCELLED: BacktestState

class Rule(_message.Message):
    __slots__ = ("source", "field", "op", "value", "label", "values", "labels", "fast", "slow", "window", "symbol")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FAST_FIELD_NUMBER: _ClassVar[int]
    SLOW_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    source: RuleSource
    field: str
    op: RuleOperator
    value: float
    label: str
    values: _containers.RepeatedScalarFieldContainer[float]
    labels: _containers.RepeatedScalarFieldContainer[str]
    fast: int
    slow: int
    window: int
    symbol: str
    def __init__(self, source: _Optional[_Union[RuleSource, str]] = ..., field: _Optional[str] = ..., op: _Optional[_Union[RuleOperator, str]] = ..., value: _Optional[float] = ..., label: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., labels: _Optional[_Iterable[str]] = ..., fast: _Optional[int] = ..., slow: _Optional[int] = ..., window: _Optional[int] = ..., symbol: _Optional[str] = ...) -> None: ...

class RuleGroup(_message.Message):
    __slots__ = ("rules", "combine")
    RULES_FIELD_NUMBER: _ClassVar[int]
    COMBINE_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    combine: RuleCombine
    def __init__(self, rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., combine: _Optional[_Union[RuleCombine, str]] = ...) -> None: ...

class Rules(_message.Message):
    __slots__ = ("long_entry", "long_exit", "short_entry", "short_exit")
    LONG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    LONG_EXIT_FIELD_NUMBER: _ClassVar[int]
    SHORT_ENTRY_FIELD_NUMBER: _ClassVar[int]
    SHORT_EXIT_FIELD_NUMBER: _ClassVar[int]
    long_entry: RuleGroup
    long_exit: RuleGroup
    short_entry: RuleGroup
    short_exit: RuleGroup
    def __init__(self, long_entry: _Optional[_Union[RuleGroup, _Mapping]] = ..., long_exit: _Optional[_Union[RuleGroup, _Mapping]] = ..., short_entry: _Optional[_Union[RuleGroup, _Mapping]] = ..., short_exit: _Optional[_Union[RuleGroup, _Mapping]] = ...) -> None: ...

class Sizing(_message.Message):
    __slots__ = ("method", "weight", "gross_target", "target_volatility", "volatility_window", "fractional_shares")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    GROSS_TARGET_FIELD_NUMBER: _ClassVar[int]
    TARGET_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_WINDOW_FIELD_NUMBER: _ClassVar[int]
    FRACTIONAL_SHARES_FIELD_NUMBER: _ClassVar[int]
    method: SizingMethod
    weight: float
    gross_target: float
    target_volatility: float
    volatility_window: int
    fractional_shares: bool
    def __init__(self, method: _Optional[_Union[SizingMethod, str]] = ..., weight: _Optional[float] = ..., gross_target: _Optional[float] = ..., target_volatility: _Optional[float] = ..., volatility_window: _Optional[int] = ..., fractional_shares: _Optional[bool] = ...) -> None: ...

class Rebalance(_message.Message):
    __slots__ = ("frequency", "drift_tolerance", "keep_shares", "timezone")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    DRIFT_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    KEEP_SHARES_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    frequency: RebalanceFrequency
    drift_tolerance: float
    keep_shares: bool
    timezone: str
    def __init__(self, frequency: _Optional[_Union[RebalanceFrequency, str]] = ..., drift_tolerance: _Optional[float] = ..., keep_shares: _Optional[bool] = ..., timezone: _Optional[str] = ...) -> None: ...

class Costs(_message.Message):
    __slots__ = ("commission_bps", "commission_per_share", "slippage_bps")
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_PER_SHARE_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_BPS_FIELD_NUMBER: _ClassVar[int]
    commission_bps: float
    commission_per_share: float
    slippage_bps: float
    def __init__(self, commission_bps: _Optional[float] = ..., commission_per_share: _Optional[float] = ..., slippage_bps: _Optional[float] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_position_weight", "gross_leverage", "net_leverage")
    MAX_POSITION_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    GROSS_LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    NET_LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    max_position_weight: float
    gross_leverage: float
    net_leverage: float
    def __init__(self, max_position_weight: _Optional[float] = ..., gross_leverage: _Optional[float] = ..., net_leverage: _Optional[float] = ...) -> None: ...

class StrategyConfig(_message.Message):
    __slots__ = ("name", "universe", "rules", "frequency", "time_range", "initial_cash", "sizing", "rebalance", "costs", "limits", "fill", "signal_model", "regime_model", "feature_view", "feature_version", "benchmark", "risk_free_rate", "periods_per_year")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIVERSE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CASH_FIELD_NUMBER: _ClassVar[int]
    SIZING_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_FIELD_NUMBER: _ClassVar[int]
    COSTS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_MODEL_FIELD_NUMBER: _ClassVar[int]
    REGIME_MODEL_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    RISK_FREE_RATE_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    name: str
    universe: _containers.RepeatedScalarFieldContainer[str]
    rules: Rules
    frequency: _bar_pb2.Frequency
    time_range: _time_range_pb2.TimeRange
    initial_cash: float
    sizing: Sizing
    rebalance: Rebalance
    costs: Costs
    limits: Limits
    fill: FillPrice
    signal_model: _model_ref_pb2.ModelRef
    regime_model: _model_ref_pb2.ModelRef
    feature_view: str
    feature_version: str
    benchmark: str
    risk_free_rate: float
    periods_per_year: float
    def __init__(self, name: _Optional[str] = ..., universe: _Optional[_Iterable[str]] = ..., rules: _Optional[_Union[Rules, _Mapping]] = ..., frequency: _Optional[_Union[_bar_pb2.Frequency, str]] = ..., time_range: _Optional[_Union[_time_range_pb2.TimeRange, _Mapping]] = ..., initial_cash: _Optional[float] = ..., sizing: _Optional[_Union[Sizing, _Mapping]] = ..., rebalance: _Optional[_Union[Rebalance, _Mapping]] = ..., costs: _Optional[_Union[Costs, _Mapping]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., fill: _Optional[_Union[FillPrice, str]] = ..., signal_model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., regime_model: _Optional[_Union[_model_ref_pb2.ModelRef, _Mapping]] = ..., feature_view: _Optional[str] = ..., feature_version: _Optional[str] = ..., benchmark: _Optional[str] = ..., risk_free_rate: _Optional[float] = ..., periods_per_year: _Optional[float] = ...) -> None: ...

class Kpis(_message.Message):
    __slots__ = ("total_return", "annualized_return", "volatility", "sharpe", "sortino", "max_drawdown", "drawdown_start", "drawdown_trough", "drawdown_recovery", "calmar", "turnover", "hit_rate", "closed_trades", "winning_trades", "positive_periods", "avg_gross_exposure", "avg_net_exposure", "time_in_market", "beta", "alpha", "fills", "commission", "slippage", "final_equity", "bars", "periods_per_year")
    TOTAL_RETURN_FIELD_NUMBER: _ClassVar[int]
    ANNUALIZED_RETURN_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    SHARPE_FIELD_NUMBER: _ClassVar[int]
    SORTINO_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_START_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_TROUGH_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    CALMAR_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    CLOSED_TRADES_FIELD_NUMBER: _ClassVar[int]
    WINNING_TRADES_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_PERIODS_FIELD_NUMBER: _ClassVar[int]
    AVG_GROSS_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    AVG_NET_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_MARKET_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    FILLS_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_FIELD_NUMBER: _ClassVar[int]
    FINAL_EQUITY_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    total_return: float
    annualized_return: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown_start: _timestamp_pb2.Timestamp
    drawdown_trough: _timestamp_pb2.Timestamp
    drawdown_recovery: _timestamp_pb2.Timestamp
    calmar: float
    turnover: float
    hit_rate: float
    closed_trades: int
    winning_trades: int
    positive_periods: float
    avg_gross_exposure: float
    avg_net_exposure: float
    time_in_market: float
    beta: float
    alpha: float
    fills: int
    commission: float
    slippage: float
    final_equity: float
    bars: int
    periods_per_year: float
    def __init__(self, total_return: _Optional[float] = ..., annualized_return: _Optional[float] = ..., volatility: _Optional[float] = ..., sharpe: _Optional[float] = ..., sortino: _Optional[float] = ..., max_drawdown: _Optional[float] = ..., drawdown_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., drawdown_trough: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., drawdown_recovery: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., calmar: _Optional[float] = ..., turnover: _Optional[float] = ..., hit_rate: _Optional[float] = ..., closed_trades: _Optional[int] = ..., winning_trades: _Optional[int] = ..., positive_periods: _Optional[float] = ..., avg_gross_exposure: _Optional[float] = ..., avg_net_exposure: _Optional[float] = ..., time_in_market: _Optional[float] = ..., beta: _Optional[float] = ..., alpha: _Optional[float] = ..., fills: _Optional[int] = ..., commission: _Optional[float] = ..., slippage: _Optional[float] = ..., final_equity: _Optional[float] = ..., bars: _Optional[int] = ..., periods_per_year: _Optional[float] = ...) -> None: ...

class ModelUsed(_message.Message):
    __slots__ = ("name", "version", "feature_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    feature_version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., feature_version: _Optional[str] = ...) -> None: ...

class BacktestError(_message.Message):
    __slots__ = ("code", "message", "reason", "fields")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    reason: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class Backtest(_message.Message):
    __slots__ = ("name", "id", "operation", "config", "state", "progress", "progress_message", "kpis", "data_watermark", "signal_model", "regime_model", "feature_view", "feature_version", "create_time", "start_time", "end_time", "error", "bar_count", "trade_count", "request_id", "warnings")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    DATA_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_MODEL_FIELD_NUMBER: _ClassVar[int]
    REGIME_MODEL_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BAR_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    operation: str
    config: StrategyConfig
    state: BacktestState
    progress: float
    progress_message: str
    kpis: Kpis
    data_watermark: _timestamp_pb2.Timestamp
    signal_model: ModelUsed
    regime_model: ModelUsed
    feature_view: str
    feature_version: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    error: BacktestError
    bar_count: int
    trade_count: int
    request_id: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., operation: _Optional[str] = ..., config: _Optional[_Union[StrategyConfig, _Mapping]] = ..., state: _Optional[_Union[BacktestState, str]] = ..., progress: _Optional[float] = ..., progress_message: _Optional[str] = ..., kpis: _Optional[_Union[Kpis, _Mapping]] = ..., data_watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signal_model: _Optional[_Union[ModelUsed, _Mapping]] = ..., regime_model: _Optional[_Union[ModelUsed, _Mapping]] = ..., feature_view: _Optional[str] = ..., feature_version: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[BacktestError, _Mapping]] = ..., bar_count: _Optional[int] = ..., trade_count: _Optional[int] = ..., request_id: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class RunBacktestRequest(_message.Message):
    __slots__ = ("config", "request_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    config: StrategyConfig
    request_id: str
    def __init__(self, config: _Optional[_Union[StrategyConfig, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunBacktestResponse(_message.Message):
    __slots__ = ("operation", "backtest")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    BACKTEST_FIELD_NUMBER: _ClassVar[int]
    operation: str
    backtest: str
    def __init__(self, operation: _Optional[str] = ..., backtest: _Optional[str] = ...) -> None: ...

class GetBacktestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetBacktestResponse(_message.Message):
    __slots__ = ("backtest",)
    BACKTEST_FIELD_NUMBER: _ClassVar[int]
    backtest: Backtest
    def __init__(self, backtest: _Optional[_Union[Backtest, _Mapping]] = ...) -> None: ...

class ListBacktestsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "strategy_name", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    strategy_name: str
    state: BacktestState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., strategy_name: _Optional[str] = ..., state: _Optional[_Union[BacktestState, str]] = ...) -> None: ...

class ListBacktestsResponse(_message.Message):
    __slots__ = ("backtests", "next_page_token")
    BACKTESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    backtests: _containers.RepeatedCompositeFieldContainer[Backtest]
    next_page_token: str
    def __init__(self, backtests: _Optional[_Iterable[_Union[Backtest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetKpisRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetKpisResponse(_message.Message):
    __slots__ = ("name", "kpis")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kpis: Kpis
    def __init__(self, name: _Optional[str] = ..., kpis: _Optional[_Union[Kpis, _Mapping]] = ...) -> None: ...

class StreamEquityRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StreamEquityResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _arrow_pb2.ArrowFrame
    def __init__(self, frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...

class GetTradesRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTradesResponse(_message.Message):
    __slots__ = ("frame",)
    FRAME_FIELD_NUMBER: _ClassVar[int]
    frame: _arrow_pb2.ArrowFrame
    def __init__(self, frame: _Optional[_Union[_arrow_pb2.ArrowFrame, _Mapping]] = ...) -> None: ...
