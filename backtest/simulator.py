"""The path-dependent part of a backtest: from target weights to orders and fills.

Everything that can be computed for all bars at once (rules, sides, weights, fill quotes) is
computed before; this loop only visits the decision bars where something may trade, and there
turns weights into orders with the equity of that close:

- order value = target weight * equity - committed shares * close (committed: held plus
  ordered and not yet filled); in shares, rounded toward zero (whole shares: |value| // close)
  or exact; a zero target closes the whole position;
- who trades: with `drift_tolerance` None, the symbols whose committed side differs from the
  wanted side (entries, exits, flips; retried on later decision bars while they still differ);
  otherwise also held positions whose weight is more than the tolerance off its target;
- a symbol with an unfilled order, or without a bar at the decision bar, waits.

Fills settle (cash and shares move) on their bar. The fills are the loop's only output: cash,
positions and equity at every bar follow from them (`accounting`). The loop works on scalars:
per-bar numpy calls on a few symbols cost more than the arithmetic itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from backtest.arrays import BoolArray, FloatArray, IntArray, SideArray
from backtest.config import Costs, Limits, StrategyConfig
from backtest.costs import commission_of, slipped_price_of
from backtest.execution import FillQuotes, SimulatedExecutor
from backtest.market import Market
from backtest.orders import ExecutionTerms, OrderBatch
from backtest.sizing import fit_to_book
from backtest.sources import Executor

Progress = Callable[[float], None]
#: Up to this many symbols to look at, a resizing bar is computed symbol by symbol.
SCALAR_LIMIT = 24
#: One order of a decision bar: (symbol column, signed shares, decision close).
Order = tuple[int, float, float]


@dataclass(frozen=True)
class Fills:
    """Every fill of a run, in the order they were decided."""

    order_bar: IntArray
    bar: IntArray
    symbol: IntArray
    quantity: FloatArray
    price: FloatArray
    commission: FloatArray
    slippage: FloatArray

    @property
    def count(self) -> int:
        return int(self.bar.size)


class _Ledger:
    """Cash and shares as of the last settled fill, what is ordered and not yet filled, and
    the record of every fill."""

    def __init__(self, cash: float, n: int) -> None:
        self.cash = cash
        self.shares: FloatArray = np.zeros(n)
        self.pending: FloatArray = np.zeros(n)
        self.queue: list[tuple[int, int, float, float, float]] = []
        #: Symbols with committed shares (held or ordered).
        self.held: set[int] = set()
        self.record: list[tuple[int, int, int, float, float, float, float]] = []

    def fill(
        self, now: int, bar: int, j: int, qty: float, price: float, fee: float, slip: float
    ) -> None:
        self.record.append((now, bar, j, qty, price, fee, slip))
        if bar <= now:
            self._apply(j, qty, price, fee)
        else:
            self.pending[j] += qty
            self.queue.append((bar, j, qty, price, fee))
        if self.shares[j] + self.pending[j]:
            self.held.add(j)
        else:
            self.held.discard(j)

    def settle(self, row: int) -> None:
        """Apply the fills whose bar is at or before `row`."""
        waiting = []
        for item in self.queue:
            bar, j, qty, price, fee = item
            if bar <= row:
                self.pending[j] -= qty
                self._apply(j, qty, price, fee)
            else:
                waiting.append(item)
        self.queue = waiting

    def _apply(self, j: int, qty: float, price: float, fee: float) -> None:
        self.shares[j] += qty
        self.cash = self.cash - qty * price - fee

    def equity(self, marks: FloatArray) -> float:
        return self.cash + float(np.dot(self.shares, marks))

    def fills(self) -> Fills:
        if not self.record:
            none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)
            return Fills(none_i, none_i, none_i, none_f, none_f, none_f, none_f)
        order_bar, bar, symbol, qty, price, fee, slip = zip(*self.record, strict=True)
        ints: list[IntArray] = [np.asarray(a, dtype=np.int64) for a in (order_bar, bar, symbol)]
        floats: list[FloatArray] = [
            np.asarray(a, dtype=np.float64) for a in (qty, price, fee, slip)
        ]
        return Fills(ints[0], ints[1], ints[2], *floats)


def order_size(target: float, committed: float, price: float, equity: float, whole: bool) -> float:
    """Signed shares that bring `committed` shares to `target` weight of `equity`."""
    if target == 0:
        return -committed
    value = target * equity - committed * price
    if not whole:
        return value / price
    shares = abs(value) // price
    return shares if value > 0 else -shares


class _Filler:
    """Turns one decision bar's orders into fills: from the quotes of the built-in executor,
    or with one call of any other executor."""

    def __init__(self, executor: Executor, market: Market, terms: ExecutionTerms) -> None:
        self.executor, self.market, self.terms = executor, market, terms
        self.costs: Costs = terms.costs
        self.quotes: FillQuotes | None = None
        if type(executor) is SimulatedExecutor:
            self.quotes = executor.quotes(market, terms)

    def fill(self, row: int, orders: list[Order], ledger: _Ledger) -> None:
        if self.quotes is not None:
            bars, prices = self.quotes.bar[row], self.quotes.price[row]
            for j, qty, _ in orders:
                bar = int(bars[j])
                if bar < 0:
                    continue
                base = float(prices[j])
                price = slipped_price_of(base, qty, self.costs)
                fee = commission_of(qty, price, self.costs)
                ledger.fill(row, bar, j, qty, price, fee, abs(qty) * abs(price - base))
            return
        batch = OrderBatch(
            row,
            np.asarray([o[0] for o in orders], dtype=np.int64),
            np.asarray([o[1] for o in orders], dtype=np.float64),
            np.asarray([o[2] for o in orders], dtype=np.float64),
        )
        result = self.executor.execute(batch, self.market, self.terms)
        result.check(batch, self.market.rows)
        answers = zip(
            batch.symbols.tolist(),
            result.bar.tolist(),
            result.quantity.tolist(),
            result.price.tolist(),
            result.commission.tolist(),
            result.slippage.tolist(),
            strict=True,
        )
        for j, bar, qty, price, fee, slip in answers:
            if bar >= 0 and qty != 0:
                ledger.fill(row, bar, j, qty, price, fee, slip)


def simulate_orders(
    config: StrategyConfig,
    market: Market,
    sides: SideArray,
    weights: FloatArray,
    decision: BoolArray,
    executor: Executor,
    progress: Progress | None = None,
) -> Fills:
    """Walk the decision bars from `market.start_row` on; returns every fill."""
    n = market.n_universe
    decision = decision.copy()
    decision[: market.start_row] = False
    rows = np.flatnonzero(decision)
    filler = _Filler(executor, market, ExecutionTerms(config.fill, config.costs))
    ledger = _Ledger(float(config.initial_cash), n)
    walk = _Walk(market, sides, weights, config.sizing.whole_shares, config.limits, ledger, filler)
    with np.errstate(invalid="ignore", divide="ignore"):
        if config.rebalance.drift_tolerance is None:
            walk.on_changes(rows, progress)
        else:
            walk.with_resizing(rows, config.rebalance.drift_tolerance, progress)
    if progress is not None:
        progress(1.0)
    return ledger.fills()


@dataclass
class _Walk:
    market: Market
    sides: SideArray
    weights: FloatArray
    whole: bool
    limits: Limits
    ledger: _Ledger
    filler: _Filler

    def __post_init__(self) -> None:
        n = self.market.n_universe
        self.close = self.market.close[:, :n]
        self.has_bar = self.market.has_bar[:, :n]
        self.mark = np.nan_to_num(self.market.mark[:, :n], nan=0.0)

    def on_changes(self, rows: IntArray, progress: Progress | None) -> None:
        """Trade only where the wanted side differs from the committed one."""
        wanted = self.sides[rows]
        before = np.zeros_like(wanted)
        before[1:] = wanted[:-1]
        changed: dict[int, list[int]] = {}
        for k, j in zip(*(a.tolist() for a in np.nonzero(wanted != before)), strict=True):
            changed.setdefault(k, []).append(j)
        retry: set[int] = set()
        step = max(1, -(-rows.size // 100))
        ledger, shares, pending = self.ledger, self.ledger.shares, self.ledger.pending
        for k, t in enumerate(rows.tolist()):
            if progress is not None and k % step == 0:
                progress(k / rows.size)
            fresh = changed.get(k)
            if fresh is None and not retry:
                continue
            candidates = sorted(retry.union(fresh)) if fresh is not None else sorted(retry)
            if ledger.queue:
                ledger.settle(t)
            desired, weight = self.sides[t], self.weights[t]
            price, has_bar = self.close[t], self.has_bar[t]
            equity = ledger.equity(self.mark[t])
            orders: list[Order] = []
            opening: list[tuple[int, float, float, float]] = []
            for j in candidates:
                committed = float(shares[j] + pending[j])
                if (committed > 0) - (committed < 0) == desired[j] or pending[j] or not has_bar[j]:
                    continue
                target = float(weight[j])
                if target == 0:
                    orders.append((j, -committed, float(price[j])))
                else:
                    opening.append((j, committed, float(price[j]), target))
            if opening:
                orders += self._open(t, opening, [o[0] for o in orders], equity)
            if orders:
                self.filler.fill(t, orders, ledger)
            retry = set()
            for j in candidates:  # still not on the wanted side: try again next decision bar
                committed = float(shares[j] + pending[j])
                if (committed > 0) - (committed < 0) != desired[j]:
                    retry.add(j)

    def _open(
        self,
        row: int,
        opening: list[tuple[int, float, float, float]],
        closing: list[int],
        equity: float,
    ) -> list[Order]:
        """Orders for new positions (entries and flips), their targets fitted to the limits
        given the positions kept."""
        targets = [o[3] for o in opening]
        book_shares = self.ledger.shares + self.ledger.pending
        book = float(np.dot(np.abs(book_shares), self.mark[row])) / equity
        limit = min(self.limits.gross_leverage, self.limits.net_leverage)
        if book + sum(abs(w) for w in targets) > limit:  # may not fit: fit them exactly
            kept = book_shares * self.mark[row]
            kept[[o[0] for o in opening] + closing] = 0.0
            book_long = float(kept[kept > 0].sum()) / equity
            book_short = float(kept[kept < 0].sum()) / equity
            targets = fit_to_book(targets, book_long, book_short, self.limits)
        orders: list[Order] = []
        for (j, committed, px, _), target in zip(opening, targets, strict=True):
            qty = order_size(target, committed, px, equity, self.whole)
            if qty != 0:
                orders.append((j, qty, px))
        return orders

    def with_resizing(self, rows: IntArray, tolerance: float, progress: Progress | None) -> None:
        """Trade side changes and every position more than `tolerance` off its target."""
        wanted: dict[int, list[int]] = {}
        for k, j in zip(*(a.tolist() for a in np.nonzero(self.sides[rows])), strict=True):
            wanted.setdefault(k, []).append(j)
        step = max(1, -(-rows.size // 100))
        ledger = self.ledger
        for k, t in enumerate(rows.tolist()):
            if progress is not None and k % step == 0:
                progress(k / rows.size)
            if ledger.queue:
                ledger.settle(t)
            fresh = wanted.get(k)
            if fresh is None and not ledger.held:
                continue
            candidates = sorted(ledger.held.union(fresh)) if fresh else sorted(ledger.held)
            equity = ledger.equity(self.mark[t])
            if len(candidates) <= SCALAR_LIMIT:
                orders = self._resize_each(t, candidates, equity, tolerance)
            else:
                orders = self._resize_all(t, np.asarray(candidates), equity, tolerance)
            if orders:
                self.filler.fill(t, orders, ledger)

    def _resize_each(
        self, row: int, candidates: list[int], equity: float, tolerance: float
    ) -> list[Order]:
        """`_resize_all` one symbol at a time (faster for a few symbols; same arithmetic)."""
        shares, pending = self.ledger.shares, self.ledger.pending
        desired, weight = self.sides[row], self.weights[row]
        price, has_bar = self.close[row], self.has_bar[row]
        orders: list[Order] = []
        for j in candidates:
            if pending[j] or not has_bar[j]:
                continue
            committed, px, target = float(shares[j]), float(price[j]), float(weight[j])
            side = (committed > 0) - (committed < 0)
            if side == desired[j] and not abs(committed * px / equity - target) > tolerance:
                continue
            qty = order_size(target, committed, px, equity, self.whole)
            if qty != 0:
                orders.append((j, qty, px))
        return orders

    def _resize_all(
        self, row: int, candidates: IntArray, equity: float, tolerance: float
    ) -> list[Order]:
        shares = self.ledger.shares[candidates]
        price = self.close[row, candidates]
        target = self.weights[row, candidates]
        drift = np.abs(shares * price / equity - target) > tolerance
        mismatch = np.sign(shares) != self.sides[row, candidates]
        free = (self.ledger.pending[candidates] == 0) & self.has_bar[row, candidates]
        orders: list[Order] = []
        for i in np.flatnonzero((mismatch | drift) & free).tolist():
            px = float(price[i])
            qty = order_size(float(target[i]), float(shares[i]), px, equity, self.whole)
            if qty != 0:
                orders.append((int(candidates[i]), qty, px))
        return orders
