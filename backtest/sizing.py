"""Target weights: the sizing method over the sides the rules want, then the limits.

A weight is a signed fraction of equity (0.1 = long 10 % of equity, -0.1 = short 10 %). Rows
whose weights are within the limits are left exactly as the sizing method gave them.
"""

from __future__ import annotations

import numpy as np

from backtest import indicators
from backtest.arrays import FloatArray, SideArray
from backtest.config import Limits, Sizing, SizingMethod
from backtest.rules import RuleContext

#: Targets that overshoot a limit by less than this still fit, and the room left under a
#: limit is rounded to this many decimals (1.0 - 0.8 leaves 0.2, not 0.19999999999999996).
FIT_SLACK = 1e-12
ROUNDING = 12


def target_weights(
    sizing: Sizing, limits: Limits, sides: SideArray, ctx: RuleContext
) -> FloatArray:
    """Rows x universe target weights (0 where the side is flat or cannot be sized)."""
    active = sides != 0
    count = active.sum(axis=1, keepdims=True).astype(np.float64)
    direction = sides.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if sizing.method is SizingMethod.EQUAL_WEIGHT:
            each = sizing.weight if sizing.weight is not None else sizing.gross_target / count
            weights = direction * each
        elif sizing.method is SizingMethod.VOLATILITY_TARGET:
            vol = volatility_matrix(ctx, sizing.volatility_window)
            weights = direction * sizing.target_volatility / (count * vol)
        else:
            market = ctx.market
            assert market.signals is not None
            strength = np.where(active, np.abs(market.signals[:, : market.n_universe]), 0.0)
            strength = np.nan_to_num(strength, nan=0.0)
            total = strength.sum(axis=1, keepdims=True)
            weights = direction * strength / total * sizing.gross_target
    weights = np.where(active & np.isfinite(weights), weights, 0.0)
    return apply_limits(weights, limits)


def volatility_matrix(ctx: RuleContext, window: int) -> FloatArray:
    """Annualized trailing volatility of each universe symbol's own bars, as of every row."""
    market = ctx.market
    n = market.n_universe
    if market.has_bar[:, :n].all():  # complete: all symbols at once
        return indicators.volatility(market.close[:, :n], window, ctx.periods_per_year)
    out = np.empty((market.rows, n))
    for j in range(n):
        own = indicators.volatility(market.series[j].close, window, ctx.periods_per_year)
        out[:, j] = market.asof(j, own)
    return out


def apply_limits(weights: FloatArray, limits: Limits) -> FloatArray:
    """Cap each |weight|, then the gross (scaling a row down), then the net (scaling the
    heavier side down). Returns a new array."""
    cap = limits.max_position_weight
    w: FloatArray = np.clip(weights, -cap, cap)
    gross = np.abs(w).sum(axis=1)
    over = np.flatnonzero(gross > limits.gross_leverage)
    if over.size:
        w[over] *= (limits.gross_leverage / gross[over])[:, None]
    net = w.sum(axis=1)
    long_heavy = np.flatnonzero(net > limits.net_leverage)
    short_heavy = np.flatnonzero(net < -limits.net_leverage)
    for rows, sign in ((long_heavy, 1.0), (short_heavy, -1.0)):
        if not rows.size:
            continue
        block = w[rows]
        heavy = np.where(block * sign > 0, block, 0.0).sum(axis=1)
        light = block.sum(axis=1) - heavy
        factor = (sign * limits.net_leverage - light) / heavy
        w[rows] = np.where(block * sign > 0, block * factor[:, None], block)
    return w


def fit_to_book(
    targets: list[float], book_long: float, book_short: float, limits: Limits
) -> list[float]:
    """Scale the target weights of new positions so that, with the positions kept (long and
    short weights `book_long` >= 0 >= `book_short`), gross and net stay within the limits.
    Targets that fit are returned unchanged."""
    fitted = list(targets)
    room = round(limits.gross_leverage - (book_long - book_short), ROUNDING)
    need = sum(abs(w) for w in fitted)
    if need > room + FIT_SLACK:
        factor = max(room, 0.0) / need
        fitted = [w * factor for w in fitted]
    net = book_long + book_short + sum(fitted)
    for sign in (1.0, -1.0):
        if net * sign <= limits.net_leverage + FIT_SLACK:
            continue
        heavy = sum(w for w in fitted if w * sign > 0)
        allowed = round(sign * limits.net_leverage - (net - heavy), ROUNDING)
        factor = max(allowed / heavy, 0.0) if heavy else 0.0
        fitted = [w * factor if w * sign > 0 else w for w in fitted]
    return fitted
