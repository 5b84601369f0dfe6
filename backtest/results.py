"""What a backtest returns: the equity curve, the trades, positions over time and the KPIs.

Arrays stay numpy (rows are the reported bars, from the config's start on); `*_table()` give
Arrow tables (times as timestamp[us, UTC]) for storage and for streaming over the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from backtest.arrays import FloatArray, IntArray, TimeArray
from backtest.config import StrategyConfig
from backtest.kpis import Kpis

TIME = pa.timestamp("us", tz="UTC")


def _times(micros: TimeArray) -> pa.Array:
    return pa.array(micros, pa.int64()).cast(TIME)


@dataclass(frozen=True)
class EquityCurve:
    """One row per reported bar, at its close, after its fills."""

    times: TimeArray
    equity: FloatArray
    cash: FloatArray
    gross_exposure: FloatArray
    net_exposure: FloatArray

    def to_table(self) -> pa.Table:
        return pa.table(
            {
                "time": _times(self.times),
                "equity": self.equity,
                "cash": self.cash,
                "gross_exposure": self.gross_exposure,
                "net_exposure": self.net_exposure,
            }
        )


@dataclass(frozen=True)
class Trades:
    """One row per fill, in the order they were decided. `quantity` is positive shares; `side`
    says BUY or SELL; `slippage` is its cash cost; `decision_time` the bar it was decided on."""

    times: TimeArray
    decision_times: TimeArray
    symbols: tuple[str, ...]
    symbol_index: IntArray
    signed_quantity: FloatArray
    price: FloatArray
    commission: FloatArray
    slippage: FloatArray

    def __len__(self) -> int:
        return int(self.times.size)

    @property
    def quantity(self) -> FloatArray:
        return np.abs(self.signed_quantity)

    @property
    def side(self) -> list[str]:
        return ["BUY" if q > 0 else "SELL" for q in self.signed_quantity.tolist()]

    def symbol(self, i: int) -> str:
        return self.symbols[int(self.symbol_index[i])]

    def to_table(self) -> pa.Table:
        names = pa.array(self.symbols, pa.string()).take(pa.array(self.symbol_index))
        return pa.table(
            {
                "time": _times(self.times),
                "symbol": names,
                "side": pa.array(self.side, pa.string()),
                "quantity": self.quantity,
                "price": self.price,
                "commission": self.commission,
                "slippage": self.slippage,
                "decision_time": _times(self.decision_times),
            }
        )


@dataclass(frozen=True)
class BacktestResult:
    config: StrategyConfig
    symbols: tuple[str, ...]
    equity: EquityCurve
    trades: Trades
    #: Shares held per reported bar (rows) and universe symbol (columns), at the close.
    positions: FloatArray
    #: Market value of `positions` (signed), at the latest close.
    position_values: FloatArray
    kpis: Kpis

    def positions_table(self) -> pa.Table:
        """Long layout, non-zero holdings only: time, symbol, quantity, market_value, weight."""
        rows, columns = np.nonzero(self.positions)
        values = self.position_values[rows, columns]
        return pa.table(
            {
                "time": _times(self.equity.times[rows]),
                "symbol": pa.array(self.symbols, pa.string()).take(pa.array(columns)),
                "quantity": self.positions[rows, columns],
                "market_value": values,
                "weight": values / self.equity.equity[rows],
            }
        )
