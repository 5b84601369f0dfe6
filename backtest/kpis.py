"""Key performance indicators of an equity curve, annualized by bar frequency.

Conventions (P = periods per year: 252 for daily bars, 252 x bars per session for minute bars):

- returns: one per bar, r_i = E_i / E_(i-1) - 1, the first against the initial cash;
- total return E_last / initial - 1; annualized (1 + total) ** (P / bars) - 1;
- volatility: std(r, ddof 1) * sqrt(P);
- Sharpe: mean(r - rf) / std(r - rf, ddof 1) * sqrt(P), rf the per-bar risk-free rate
  (1 + risk_free_rate) ** (1 / P) - 1; Sortino: mean(r - rf) / sqrt(mean(min(r - rf, 0)^2))
  * sqrt(P) (downside deviation over all bars);
- max drawdown: the largest fall from a running peak (the initial cash counts as the first
  peak), as a positive fraction of the peak; its start is the peak's bar, its trough the lowest
  bar, its recovery the first later bar back at the peak (None while under water);
- Calmar: annualized return / max drawdown;
- turnover: traded value (sum |qty * price|) per year over the mean equity (annualized, one
  way: buying and later selling a full book is 2);
- hit rate: the fraction of closed round-trip trades with a positive result net of their
  commissions (`positive_periods` is the fraction of bars with a positive return);
- exposure: mean gross and net exposure (market value / equity), and the fraction of bars
  holding any position;
- beta: cov(r, b) / var(b) against the benchmark's close-to-close returns b on the same bars;
  alpha (Jensen, annualized): (mean(r - rf) - beta * mean(b - rf)) * P.

A KPI that is undefined (no variance, no closed trade, no benchmark) is None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

from backtest.arrays import FloatArray, TimeArray


@dataclass(frozen=True)
class Drawdown:
    depth: float
    start: datetime | None
    trough: datetime | None
    recovery: datetime | None


@dataclass(frozen=True)
class Kpis:
    total_return: float
    annualized_return: float
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    drawdown_start: datetime | None
    drawdown_trough: datetime | None
    drawdown_recovery: datetime | None
    calmar: float | None
    turnover: float
    hit_rate: float | None
    closed_trades: int
    winning_trades: int
    positive_periods: float | None
    avg_gross_exposure: float
    avg_net_exposure: float
    time_in_market: float
    beta: float | None
    alpha: float | None
    fills: int
    commission: float
    slippage: float
    final_equity: float
    bars: int
    periods_per_year: float

    def as_dict(self) -> dict[str, float | int | datetime | None]:
        return asdict(self)


def bar_returns(equity: FloatArray, initial: float) -> FloatArray:
    previous = np.concatenate([[initial], equity[:-1]])
    returns: FloatArray = equity / previous - 1
    return returns


def annualized_return(total: float, bars: int, periods_per_year: float) -> float:
    if bars == 0:
        return 0.0
    if total <= -1:
        return -1.0
    return float((1 + total) ** (periods_per_year / bars) - 1)


def per_bar_rate(annual_rate: float, periods_per_year: float) -> float:
    return float((1 + annual_rate) ** (1 / periods_per_year) - 1)


def volatility(returns: FloatArray, periods_per_year: float) -> float | None:
    if returns.size < 2:
        return None
    return float(np.std(returns, ddof=1) * math.sqrt(periods_per_year))


def sharpe(returns: FloatArray, periods_per_year: float, rf_per_bar: float = 0.0) -> float | None:
    excess = returns - rf_per_bar
    if excess.size < 2:
        return None
    sd = float(np.std(excess, ddof=1))
    if sd == 0 or not math.isfinite(sd):
        return None
    return float(np.mean(excess)) / sd * math.sqrt(periods_per_year)


def sortino(returns: FloatArray, periods_per_year: float, rf_per_bar: float = 0.0) -> float | None:
    excess = returns - rf_per_bar
    if excess.size == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0:
        return None
    return float(np.mean(excess)) / downside * math.sqrt(periods_per_year)


def max_drawdown(equity: FloatArray, times: TimeArray, initial: float) -> Drawdown:
    if equity.size == 0:
        return Drawdown(0.0, None, None, None)
    peak = np.maximum.accumulate(np.maximum(equity, initial))
    depth = 1 - equity / peak
    trough = int(np.argmax(depth))
    if depth[trough] <= 0:
        return Drawdown(0.0, None, None, None)
    top = peak[trough]
    at_top = np.flatnonzero(equity[: trough + 1] >= top)
    start = int(at_top[-1]) if at_top.size else 0
    back = np.flatnonzero(equity[trough:] >= top)
    recovery = _time(times[trough + int(back[0])]) if back.size else None
    return Drawdown(float(depth[trough]), _time(times[start]), _time(times[trough]), recovery)


def beta_alpha(
    returns: FloatArray, benchmark: FloatArray, periods_per_year: float, rf_per_bar: float = 0.0
) -> tuple[float | None, float | None]:
    both = np.isfinite(returns) & np.isfinite(benchmark)
    r, b = returns[both], benchmark[both]
    if r.size < 2:
        return None, None
    variance = float(np.var(b, ddof=1))
    if variance == 0:
        return None, None
    beta = float(np.cov(r, b, ddof=1)[0, 1]) / variance
    alpha = (float(np.mean(r - rf_per_bar)) - beta * float(np.mean(b - rf_per_bar))) * (
        periods_per_year
    )
    return beta, alpha


def compute_kpis(
    *,
    times: TimeArray,
    equity: FloatArray,
    initial: float,
    gross_exposure: FloatArray,
    net_exposure: FloatArray,
    invested: np.ndarray,
    benchmark_returns: FloatArray | None,
    traded_value: float,
    trip_pnl: FloatArray,
    fills: int,
    commission: float,
    slippage: float,
    periods_per_year: float,
    risk_free_rate: float,
) -> Kpis:
    """Every KPI of one reported equity curve (see the module docstring for definitions)."""
    bars = int(equity.size)
    final = float(equity[-1]) if bars else initial
    total = final / initial - 1
    annual = annualized_return(total, bars, periods_per_year)
    returns = bar_returns(equity, initial)
    rf = per_bar_rate(risk_free_rate, periods_per_year)
    drawdown = max_drawdown(equity, times, initial)
    years = bars / periods_per_year
    mean_equity = float(np.mean(equity)) if bars else initial
    beta = alpha = None
    if benchmark_returns is not None:
        beta, alpha = beta_alpha(returns, benchmark_returns, periods_per_year, rf)
    wins = int(np.count_nonzero(trip_pnl > 0))
    return Kpis(
        total_return=total,
        annualized_return=annual,
        volatility=volatility(returns, periods_per_year),
        sharpe=sharpe(returns, periods_per_year, rf),
        sortino=sortino(returns, periods_per_year, rf),
        max_drawdown=drawdown.depth,
        drawdown_start=drawdown.start,
        drawdown_trough=drawdown.trough,
        drawdown_recovery=drawdown.recovery,
        calmar=annual / drawdown.depth if drawdown.depth > 0 else None,
        turnover=traded_value / mean_equity / years if years > 0 and mean_equity > 0 else 0.0,
        hit_rate=wins / trip_pnl.size if trip_pnl.size else None,
        closed_trades=int(trip_pnl.size),
        winning_trades=wins,
        positive_periods=float(np.mean(returns > 0)) if bars else None,
        avg_gross_exposure=_mean(gross_exposure),
        avg_net_exposure=_mean(net_exposure),
        time_in_market=float(np.mean(invested)) if bars else 0.0,
        beta=beta,
        alpha=alpha,
        fills=fills,
        commission=commission,
        slippage=slippage,
        final_equity=final,
        bars=bars,
        periods_per_year=periods_per_year,
    )


def _mean(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else 0.0


def _time(micros: int | np.integer) -> datetime:
    seconds, rest = divmod(int(micros), 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)
