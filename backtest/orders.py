"""What the engine hands an executor and what it gets back: batches of orders and fills.

One `OrderBatch` holds the orders decided at the close of one bar; the executor answers with a
`FillBatch` of the same length (row i answers order i). Quantities are signed shares (+ buy,
- sell); symbols are column indices into `Market.symbols`; bars are row indices into
`Market.times`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.arrays import FloatArray, IntArray
from backtest.config import Costs, FillPrice
from services.runtime.errors import Internal


@dataclass(frozen=True)
class ExecutionTerms:
    """The strategy's fill convention and costs, as the executor should apply them."""

    fill: FillPrice
    costs: Costs


@dataclass(frozen=True)
class OrderBatch:
    """Market orders decided at the close of row `bar`."""

    bar: int
    symbols: IntArray
    quantity: FloatArray
    #: The decision bar's close per order (the price the order was sized with).
    reference_price: FloatArray

    def __len__(self) -> int:
        return int(self.symbols.size)


@dataclass(frozen=True)
class FillBatch:
    """One fill per order: `bar` is the row it filled on (>= the order's bar), or -1 with
    quantity 0 when it did not fill. A partial fill has a smaller |quantity| than the order;
    the rest is dropped (the engine orders again on a later decision bar if still needed)."""

    bar: IntArray
    quantity: FloatArray
    price: FloatArray
    commission: FloatArray
    #: Cash cost of slippage: |quantity| * |price - the unslipped price|.
    slippage: FloatArray

    def check(self, orders: OrderBatch, rows: int) -> None:
        """Raise Internal when the batch breaks the executor contract."""
        n = len(orders)
        arrays = (self.bar, self.quantity, self.price, self.commission, self.slippage)
        if any(a.shape != (n,) for a in arrays):
            raise Internal(f"executor answered {self.bar.shape} fills to {n} orders")
        filled = self.bar >= 0
        if np.any(filled & ((self.bar < orders.bar) | (self.bar >= rows))):
            raise Internal("executor filled an order before it was placed or after the data")
        if np.any(~filled & (self.quantity != 0)):
            raise Internal("executor returned a quantity for an unfilled order")
        if np.any(self.quantity * orders.quantity < 0) or np.any(
            np.abs(self.quantity) > np.abs(orders.quantity)
        ):
            raise Internal("executor filled more than ordered or on the wrong side")
        priced = filled & (self.quantity != 0)
        if not np.all(np.isfinite(self.price[priced]) & (self.price[priced] > 0)):
            raise Internal("executor returned a fill price that is not a positive number")
        if not np.all(np.isfinite(self.commission[priced])):
            raise Internal("executor returned a commission that is not a finite number")
