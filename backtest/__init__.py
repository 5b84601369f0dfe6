"""The backtest engine: strategies as data (`StrategyConfig`), run over bar, signal, regime and
feature sources (protocols in `sources`), vectorized with numpy. No gRPC here: the backtest
service wraps this package."""

from backtest.config import (
    Combine,
    Costs,
    FillPrice,
    Frequency,
    Limits,
    Operator,
    PriceField,
    Rebalance,
    RebalanceFrequency,
    Rule,
    RuleGroup,
    Rules,
    RuleSource,
    SignalField,
    Sizing,
    SizingMethod,
    StrategyConfig,
)
from backtest.config_codec import config_from_dict, config_to_dict
from backtest.engine import run_backtest, run_backtest_sync, simulate
from backtest.execution import SimulatedExecutor
from backtest.kpis import Kpis
from backtest.loading import fetch_inputs
from backtest.market import Market, MarketInputs, build_market
from backtest.memory_sources import MemoryBars, MemoryFeatures, MemoryRegimes, MemorySignals
from backtest.orders import ExecutionTerms, FillBatch, OrderBatch
from backtest.results import BacktestResult, EquityCurve, Trades
from backtest.sources import (
    BarSource,
    Executor,
    FeatureSource,
    RegimeSource,
    SignalSource,
    Sources,
)
from backtest.strategies import sma_crossover
from backtest.validation import check, violations

__all__ = [
    "BacktestResult",
    "BarSource",
    "Combine",
    "Costs",
    "EquityCurve",
    "ExecutionTerms",
    "Executor",
    "FeatureSource",
    "FillBatch",
    "FillPrice",
    "Frequency",
    "Kpis",
    "Limits",
    "Market",
    "MarketInputs",
    "MemoryBars",
    "MemoryFeatures",
    "MemoryRegimes",
    "MemorySignals",
    "Operator",
    "OrderBatch",
    "PriceField",
    "Rebalance",
    "RebalanceFrequency",
    "RegimeSource",
    "Rule",
    "RuleGroup",
    "RuleSource",
    "Rules",
    "SignalField",
    "SignalSource",
    "SimulatedExecutor",
    "Sizing",
    "SizingMethod",
    "Sources",
    "StrategyConfig",
    "Trades",
    "build_market",
    "check",
    "config_from_dict",
    "config_to_dict",
    "fetch_inputs",
    "run_backtest",
    "run_backtest_sync",
    "simulate",
    "sma_crossover",
    "violations",
]
