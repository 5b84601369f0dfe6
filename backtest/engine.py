"""The entry points: run a `StrategyConfig` over sources (async) or over tables (sync).

    result = await run_backtest(config, Sources(bars=..., signals=...))
    result = run_backtest_sync(config, bars_table, signals=scores_table)

Steps: validate the config; read every input in one call per source; align it on one timeline
(`market`); compute rules, sides and target weights for all bars at once (`rules`, `sizing`);
walk the decision bars turning weights into orders and fills (`simulator`, the executor);
rebuild cash, positions and equity from the fills (`accounting`); compute the KPIs (`kpis`).
The same config and data give the same result, bit for bit.
"""

from __future__ import annotations

import asyncio

import numpy as np

from backtest.accounting import Book, account, round_trips
from backtest.arrays import FloatArray
from backtest.config import StrategyConfig
from backtest.execution import SimulatedExecutor
from backtest.kpis import compute_kpis
from backtest.loading import fetch_inputs
from backtest.market import Market, MarketInputs, build_market
from backtest.memory_sources import Data, as_table
from backtest.results import BacktestResult, EquityCurve, Trades
from backtest.rules import RuleContext, desired_sides
from backtest.schedule import decision_mask, periods_per_year
from backtest.simulator import Fills, Progress, simulate_orders
from backtest.sizing import target_weights
from backtest.sources import Executor, Sources
from backtest.validation import check


async def run_backtest(
    config: StrategyConfig,
    sources: Sources,
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Validate, read the inputs (one call per source), then align and simulate in a worker
    thread so the event loop stays free. Raises InvalidArgument for a bad config, NotFound /
    OutOfRange when the sources have no data for it."""
    check(config)
    inputs = await fetch_inputs(config, sources)
    return await asyncio.to_thread(_run, config, inputs, executor, progress)


def run_backtest_sync(
    config: StrategyConfig,
    bars: Data,
    *,
    signals: Data | None = None,
    regimes: Data | None = None,
    features: Data | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """The same over tables in memory (long layout: symbol, time, values...)."""
    check(config)
    inputs = MarketInputs(
        as_table(bars),
        None if signals is None else as_table(signals),
        None if regimes is None else as_table(regimes),
        None if features is None else as_table(features),
    )
    return _run(config, inputs, executor, progress)


def _run(
    config: StrategyConfig,
    inputs: MarketInputs,
    executor: Executor | None,
    progress: Progress | None,
) -> BacktestResult:
    return simulate(config, build_market(config, inputs), executor=executor, progress=progress)


def simulate(
    config: StrategyConfig,
    market: Market,
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Run `config` on an aligned market. `progress` is called with the fraction of decision
    bars done (at most about 100 times); an exception it raises cancels the run."""
    check(config)
    start = market.start_row
    annual = periods_per_year(config, market.times[start:])
    context = RuleContext(market, annual)
    sides = desired_sides(config.rules, context, start)
    weights = target_weights(config.sizing, config.limits, sides, context)
    decision = decision_mask(market.times, config.rebalance.frequency, config.rebalance.timezone)
    fills = simulate_orders(
        config, market, sides, weights, decision, executor or SimulatedExecutor(), progress
    )
    return _result(config, market, fills, account(market, fills, config.initial_cash), annual)


def _result(
    config: StrategyConfig, market: Market, fills: Fills, book: Book, annual: float
) -> BacktestResult:
    start = market.start_row
    times = market.times[start:]
    curve = EquityCurve(
        times,
        book.equity[start:],
        book.cash[start:],
        book.gross_exposure[start:],
        book.net_exposure[start:],
    )
    symbols = tuple(market.symbols[: market.n_universe])
    trades = Trades(
        market.times[fills.bar],
        market.times[fills.order_bar],
        symbols,
        fills.symbol,
        fills.quantity,
        fills.price,
        fills.commission,
        fills.slippage,
    )
    positions = book.positions[start:]
    kpis = compute_kpis(
        times=times,
        equity=curve.equity,
        initial=float(config.initial_cash),
        gross_exposure=curve.gross_exposure,
        net_exposure=curve.net_exposure,
        invested=np.any(positions != 0, axis=1),
        benchmark_returns=_benchmark_returns(config, market),
        traded_value=float(np.abs(fills.quantity * fills.price).sum()),
        trip_pnl=round_trips(fills).pnl,
        fills=fills.count,
        commission=float(fills.commission.sum()),
        slippage=float(fills.slippage.sum()),
        periods_per_year=annual,
        risk_free_rate=config.risk_free_rate,
    )
    return BacktestResult(
        config, symbols, curve, trades, positions, book.market_value[start:], kpis
    )


def _benchmark_returns(config: StrategyConfig, market: Market) -> FloatArray | None:
    """The benchmark's close-to-close returns on the reported bars (as-of closes)."""
    if config.benchmark is None:
        return None
    close = market.mark[:, market.column(config.benchmark)]
    previous = np.full(close.size, np.nan)
    previous[1:] = close[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        returns: FloatArray = close / previous - 1
    return returns[market.start_row :]
