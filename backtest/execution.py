"""The default executor: fills every order in full, in process, by the strategy's terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.arrays import BoolArray, FloatArray, IntArray
from backtest.config import FillPrice
from backtest.costs import commission, slipped_price
from backtest.market import Market
from backtest.orders import ExecutionTerms, FillBatch, OrderBatch


@dataclass(frozen=True)
class FillQuotes:
    """Where an order decided at (row, symbol) fills, whatever its size: the fill row (-1:
    never) and the price before slippage. Lets the simulator fill without a call per bar."""

    bar: IntArray  # rows x universe
    price: FloatArray  # rows x universe


class SimulatedExecutor:
    """Fills at the close of the decision bar, or at the open of each symbol's next bar (an
    order with no later bar does not fill); the price moves against the order by the slippage,
    then the commission is charged on the slipped price."""

    def execute(self, orders: OrderBatch, market: Market, terms: ExecutionTerms) -> FillBatch:
        symbols = orders.symbols
        if terms.fill is FillPrice.CLOSE:
            bar: IntArray = np.full(len(orders), orders.bar, dtype=np.int64)
            base: FloatArray = market.close[orders.bar, symbols]
        else:
            bar = next_bars(market.has_bar, orders.bar, symbols)
            base = market.open[np.maximum(bar, 0), symbols]
        filled = bar >= 0
        quantity: FloatArray = np.where(filled, orders.quantity, 0.0)
        price = np.where(filled, slipped_price(base, quantity, terms.costs), np.nan)
        fees = np.where(filled, commission(quantity, price, terms.costs), 0.0)
        slippage = np.where(filled, np.abs(quantity) * np.abs(price - base), 0.0)
        return FillBatch(bar, quantity, price, fees, slippage)

    def quotes(self, market: Market, terms: ExecutionTerms) -> FillQuotes:
        """`execute`'s fill rows and unslipped prices for every (row, symbol) at once."""
        n, rows = market.n_universe, market.rows
        has_bar = market.has_bar[:, :n]
        if terms.fill is FillPrice.CLOSE:
            bar = np.where(has_bar, np.arange(rows)[:, None], -1)
            return FillQuotes(bar, market.close[:, :n])
        at_or_after = np.where(has_bar, np.arange(rows)[:, None], rows)
        at_or_after = np.minimum.accumulate(at_or_after[::-1], axis=0)[::-1]
        after = np.full_like(at_or_after, rows)
        after[:-1] = at_or_after[1:]
        bar = np.where(after < rows, after, -1)
        price = np.take_along_axis(market.open[:, :n], np.maximum(bar, 0), axis=0)
        price[bar < 0] = np.nan
        return FillQuotes(bar, price)


def next_bars(has_bar: BoolArray, row: int, symbols: IntArray) -> IntArray:
    """For each symbol, the first row after `row` where it has a bar (-1 when none)."""
    rows = has_bar.shape[0]
    if row + 1 >= rows:
        return np.full(symbols.size, -1, dtype=np.int64)
    out: IntArray = np.full(symbols.size, row + 1, dtype=np.int64)
    gaps = np.flatnonzero(~has_bar[row + 1, symbols])
    for k in gaps.tolist():
        later = np.flatnonzero(has_bar[row + 1 :, symbols[k]])
        out[k] = row + 1 + int(later[0]) if later.size else -1
    return out
