"""From fills to books: positions, cash and equity at every bar, and round-trip trades.

Cash moves only on fills: a fill of q shares at price p with commission c changes cash by
-(q * p) - c (a buy pays, a sale or short sale receives). Equity at a bar is cash plus every
position marked at its latest close. Positions are at the bar's close, after its fills.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from backtest.arrays import BoolArray, FloatArray
from backtest.market import Market
from backtest.simulator import Fills


@dataclass(frozen=True)
class Book:
    positions: FloatArray  # rows x universe, shares
    market_value: FloatArray  # rows x universe, signed
    cash: FloatArray
    equity: FloatArray
    gross_exposure: FloatArray  # sum |market value| / equity
    net_exposure: FloatArray  # sum market value / equity


def account(market: Market, fills: Fills, initial_cash: float) -> Book:
    rows, n = market.rows, market.n_universe
    change = np.zeros((rows, n))
    np.add.at(change, (fills.bar, fills.symbol), fills.quantity)
    positions = np.cumsum(change, axis=0)
    flows = np.bincount(
        fills.bar, weights=fills.quantity * fills.price + fills.commission, minlength=rows
    )
    cash: FloatArray = np.asarray(initial_cash - np.cumsum(flows), dtype=np.float64)
    value = positions * np.nan_to_num(market.mark[:, :n], nan=0.0)
    equity = cash + value.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gross = np.abs(value).sum(axis=1) / equity
        net = value.sum(axis=1) / equity
    return Book(positions, value, cash, equity, gross, net)


@dataclass(frozen=True)
class RoundTrips:
    """Closed round trips: a position opened from flat and brought back to flat (or flipped).
    `pnl` is each one's cash result net of its commissions."""

    pnl: FloatArray
    open_positions: int


def round_trips(fills: Fills) -> RoundTrips:
    """Split the fills into round trips per symbol; a flipping fill closes one trip and opens
    the next, its commission shared in proportion to the shares of each part."""
    if fills.count == 0:
        return RoundTrips(np.zeros(0), 0)
    order = np.lexsort((np.arange(fills.count), fills.bar, fills.symbol))
    symbol = fills.symbol[order]
    qty = fills.quantity[order]
    cash = -(qty * fills.price[order]) - fills.commission[order]
    first = np.ones(symbol.size, dtype=bool)
    first[1:] = symbol[1:] != symbol[:-1]
    after = _group_cumsum(qty, first)
    before = after - qty
    flips = (before != 0) & (after != 0) & (np.sign(before) != np.sign(after))
    closes = (before != 0) & ((after == 0) | flips)
    increments = first.astype(np.int64)
    increments[1:] += closes[:-1]
    trip = np.cumsum(increments) - 1
    closing_share = np.where(flips, np.abs(before) / np.abs(qty), 1.0)
    ids = np.concatenate([trip, trip[flips] + 1])
    amounts = np.concatenate([cash * closing_share, (cash * (1 - closing_share))[flips]])
    pnl = np.bincount(ids, weights=amounts, minlength=int(ids.max()) + 1)
    last = np.ones(symbol.size, dtype=bool)
    last[:-1] = symbol[1:] != symbol[:-1]
    return RoundTrips(pnl[trip[closes]], int(np.count_nonzero(last & (after != 0))))


def _group_cumsum(values: FloatArray, first: BoolArray) -> FloatArray:
    """Cumulative sums restarting where `first` is True (each group summed on its own, so a
    position brought back to flat sums to exactly zero)."""
    bounds = [*np.flatnonzero(first).tolist(), values.size]
    out: FloatArray = np.empty_like(values)
    for lo, hi in itertools.pairwise(bounds):
        out[lo:hi] = np.cumsum(values[lo:hi])
    return out
