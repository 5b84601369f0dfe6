"""What the engine depends on: where bars, signals, regimes and features come from, and who
executes orders. In-process implementations live in `memory_sources`; the backtest service
backs the sources with the mesh's typed clients.

The sources are asynchronous (the mesh's clients are) and called once per run, in bulk: every
symbol over the whole range in one call each, never one call per bar. Ranges are half-open,
[start, end), like the mesh's TimeRange; None leaves that side open. Times are UTC.

The executor is synchronous and called once per decision bar that has orders, from the thread
that runs the simulation (`run_backtest` runs it in a worker thread, so an executor backed by an
asynchronous client hands its call to the event loop, e.g. with
`asyncio.run_coroutine_threadsafe(call, loop).result()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from backtest.config import Frequency
from backtest.market import Market
from backtest.orders import ExecutionTerms, FillBatch, OrderBatch


class BarSource(Protocol):
    async def bars(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        """Bars of `symbols` in the bar table layout (services.marketdata.domain.bar_table:
        symbol, time, open, high, low, close, volume, adj_close; extra columns are ignored)."""
        ...


class SignalSource(Protocol):
    async def scores(
        self,
        model: str,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        """Scores of `model` (e.g. "momentum@champion"): columns symbol, time, score. A score
        stamped at time t must be computable from data up to t."""
        ...


class RegimeSource(Protocol):
    async def regimes(
        self,
        model: str,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        """Regime labels of `model`: columns symbol, time, regime (a string such as
        CALM_UPTREND, DOWNTREND, HIGH_VOL_STRESS, RANGE_BOUND), from filtered (causal)
        estimates, stamped when they become known."""
        ...


class FeatureSource(Protocol):
    async def features(
        self,
        view: str,
        version: str | None,
        names: Sequence[str],
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        """Columns symbol, time and `names` of a feature view's version (the latest when
        None), read point in time."""
        ...


class Executor(Protocol):
    """Turns the orders of one decision bar into fills (see `orders.FillBatch` for the
    contract, checked on every answer). The built-in `SimulatedExecutor` is not called per bar:
    the engine reads its fill prices for all bars at once (`SimulatedExecutor.quotes`), with the
    same result."""

    def execute(self, orders: OrderBatch, market: Market, terms: ExecutionTerms) -> FillBatch:
        """Fills for the orders decided at the close of `orders.bar` (one per order)."""
        ...


@dataclass(frozen=True)
class Sources:
    """The sources of one run; the optional ones are needed only by strategies that read them."""

    bars: BarSource
    signals: SignalSource | None = None
    regimes: RegimeSource | None = None
    features: FeatureSource | None = None
