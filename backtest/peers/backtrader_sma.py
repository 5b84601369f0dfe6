"""The SMA-crossover strategy of `backtest.strategies.sma_crossover`, written for backtrader.

Conventions aligned with this engine (so the equity curves agree on every bar):

- decisions at each bar's close on SMA(fast) - SMA(slow) crossing zero (x[t-1] <= 0 < x[t]
  up, x[t-1] >= 0 > x[t] down; backtrader's SMA is math.fsum(window) / n, and this engine
  recomputes near-ties that way);
- sizing with `order_target_percent(weight)` (whole shares: value difference // close, at the
  portfolio value of that close), closing with target 0; shorts (`allow_short`) flip to
  -weight;
- market orders fill at the next bar's open (cheat-on-open off), or with `FillPrice.CLOSE` at
  the decision bar's close (cheat-on-close);
- commission per fill |qty| * price * bps / 1e4 + |qty| * per_share (a CommInfoBase subclass);
  slippage as a percentage of the price, against the order and never capped to the bar's
  range (slip_out=True);
- the equity curve is the broker value at every bar (prenext and next).

The symbols must share one calendar (backtrader steps all feeds together). backtrader is
imported here, on call: it is a dev dependency, not one of the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from backtest.arrays import FloatArray, TimeArray
from backtest.config import Costs, FillPrice
from backtest.costs import BPS


@dataclass(frozen=True)
class PeerRun:
    times: TimeArray
    equity: FloatArray
    orders: int


def run_backtrader_sma(
    bars: pa.Table,
    symbols: Sequence[str],
    *,
    fast: int,
    slow: int,
    weight: float,
    costs: Costs | None = None,
    fill: FillPrice = FillPrice.NEXT_OPEN,
    allow_short: bool = False,
    initial_cash: float = 1_000_000.0,
) -> PeerRun:
    """Run the crossover in backtrader over `bars` (the bar table layout)."""
    import backtrader as bt

    costs = costs or Costs()

    class Commission(bt.CommInfoBase):  # type: ignore[misc]
        params = (
            ("stocklike", True),
            ("commtype", bt.CommInfoBase.COMM_FIXED),
            ("bps", 0.0),
            ("per_share", 0.0),
        )

        def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
            return float(abs(size) * price * self.p.bps / BPS + abs(size) * self.p.per_share)

    class Crossover(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.pairs = [
                (d, bt.ind.SMA(d.close, period=fast), bt.ind.SMA(d.close, period=slow))
                for d in self.datas
            ]
            self.values: list[float] = []
            self.orders = 0

        def prenext(self) -> None:
            self.values.append(self.broker.getvalue())

        def next(self) -> None:
            self.values.append(self.broker.getvalue())
            for data, f, s in self.pairs:
                now, before = f[0] - s[0], f[-1] - s[-1]
                size = self.getposition(data).size
                if before <= 0 < now and size <= 0:
                    self._order(data, weight)
                elif before >= 0 > now:
                    if allow_short and size >= 0:
                        self._order(data, -weight)
                    elif not allow_short and size > 0:
                        self._order(data, 0.0)

        def _order(self, data: Any, target: float) -> None:
            if self.order_target_percent(data, target=target) is not None:
                self.orders += 1

    cerebro = bt.Cerebro(stdstats=False)
    frame = bars.select(["symbol", "time", "open", "high", "low", "close", "volume"]).to_pandas()
    frame["time"] = frame["time"].dt.tz_localize(None)
    times: TimeArray | None = None
    for symbol in symbols:
        own = frame[frame["symbol"] == symbol].sort_values("time").set_index("time")
        stamps = own.index.to_numpy().astype("datetime64[us]").astype(np.int64)
        if times is not None and not np.array_equal(times, stamps):
            raise ValueError(f"{symbol} does not share the other symbols' calendar")
        times = stamps
        feed = bt.feeds.PandasData(dataname=own.drop(columns="symbol"), openinterest=None)
        cerebro.adddata(feed, name=symbol)
    cerebro.addstrategy(Crossover)
    broker = cerebro.broker
    broker.setcash(initial_cash)
    broker.addcommissioninfo(
        Commission(bps=costs.commission_bps, per_share=costs.commission_per_share)
    )
    if costs.slippage_bps:
        broker.set_slippage_perc(
            costs.slippage_bps / BPS,
            slip_open=True,
            slip_limit=True,
            slip_match=True,
            slip_out=True,
        )
    if fill is FillPrice.CLOSE:
        broker.set_coc(True)
    strategy = cerebro.run()[0]
    assert times is not None
    return PeerRun(times, np.asarray(strategy.values, dtype=np.float64), strategy.orders)
