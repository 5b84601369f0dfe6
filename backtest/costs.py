"""Trading costs: slipped fill prices and commissions (the `Costs` convention).

Vectorized versions for executors and scalar ones for the simulator's hot loop; both evaluate
the same expressions in the same order, so they agree to the last bit.
"""

from __future__ import annotations

import numpy as np

from backtest.arrays import FloatArray
from backtest.config import Costs

BPS = 10_000.0


def slipped_price(price: FloatArray, quantity: FloatArray, costs: Costs) -> FloatArray:
    """The fill price: `price` moved against the order (up for buys, down for sells)."""
    slip = costs.slippage_bps / BPS
    if slip == 0:
        return price
    up: FloatArray = price * (1 + slip)
    down: FloatArray = price * (1 - slip)
    return np.where(quantity > 0, up, down)


def commission(quantity: FloatArray, price: FloatArray, costs: Costs) -> FloatArray:
    """|qty| * price * bps / 1e4 + |qty| * per_share, per fill."""
    size = np.abs(quantity)
    fees: FloatArray = size * price * costs.commission_bps / BPS + size * costs.commission_per_share
    return fees


def slipped_price_of(price: float, quantity: float, costs: Costs) -> float:
    """`slipped_price` of one fill."""
    slip = costs.slippage_bps / BPS
    if slip == 0:
        return price
    return price * (1 + slip) if quantity > 0 else price * (1 - slip)


def commission_of(quantity: float, price: float, costs: Costs) -> float:
    """`commission` of one fill."""
    size = abs(quantity)
    return size * price * costs.commission_bps / BPS + size * costs.commission_per_share
