"""Outlier rules against each symbol's own trailing history: returns, ranges, volume, splits.

Large moves are judged with their context. A market-adjusted return far outside the symbol's
history is suspicious when nothing confirms it, and most likely genuine news when the volume
rose with it (at least x2 the median, and |z| / 5 for bigger moves; then it is reported, but
LOW). A bar that undoes the previous bar's unconfirmed jump is the repair, not the fault. A far
wick (high or low beyond the open and close) is a bad print, unless most symbols had one in the
same session (the 2010 flash crash, 24 Aug 2015): then it is market-wide, MEDIUM at most. A
split-like jump (the price divided by 2, 3, 4, 1.5 … with no crash-sized volume burst) is most
likely an unadjusted split: CRITICAL.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from services.quality.domain.config import RuleConfig
from services.quality.domain.features import Normalized, RawFeatures, cross_median
from services.quality.domain.findings import Check, Severity, band_score, capped, graded
from services.quality.domain.panel import Panel
from services.quality.domain.sink import FindingSink


def _pct(value: float) -> str:
    return f"{np.expm1(value):+.1%}"


def confirming_volume(z: np.ndarray | float, config: RuleConfig) -> np.ndarray:
    """The volume ratio that makes a return of robust z `z` look like genuine news."""
    return np.maximum(config.confirm_volume_ratio, np.abs(z) / config.confirm_z_per_volume)


def check_returns(
    panel: Panel,
    raw: RawFeatures,
    norm: Normalized,
    config: RuleConfig,
    sink: FindingSink,
    explained: set[int] | None = None,
) -> None:
    """Return outliers (market-adjusted robust z), confirmed by volume or not. Targets in
    `explained` (positions in `norm`, such as split-like jumps) are left to their own rule."""
    z = np.abs(norm.z_ret)
    flagged = np.flatnonzero(np.nan_to_num(z) >= config.return_levels[0])
    for k in flagged:
        if explained and int(k) in explained:
            continue
        index = int(norm.index[k])
        severity, score = graded(float(z[k]), config.return_levels)
        ratio = float(norm.volume_ratio[k])
        prior = float(raw.previous_close[index])
        text = (
            f"close {panel.close[index]:g} is {_pct(raw.ret[index])} from the previous close "
            f"{prior:g} (market {_pct(raw.market_ret[index])}): {z[k]:.1f} robust σ "
            f"(σ {norm.ret_sigma[k]:.2%}"
            + (f" per session, over {1 + raw.missed[index]} sessions" if raw.missed[index] else "")
            + ")"
        )
        volume_text = f"volume x{ratio:.1f} the median" if np.isfinite(ratio) else "no volume"
        needed = float(confirming_volume(z[k], config))
        if np.isfinite(ratio) and ratio >= needed:
            severity, score = capped(severity, score, config.confirmed_cap)
            text += f" on {volume_text}: consistent with genuine news"
        else:
            text += f" on {volume_text}: not confirmed by volume (x{needed:.1f} would be)"
        reverted = _reverted_move(panel, raw, norm, config, int(k))
        if reverted is not None:
            severity, score = capped(severity, score, Severity.LOW)
            text += f"; it undoes the previous bar's unconfirmed move of {reverted}"
        sink.add(panel.row[index], Check.PRICE_OUTLIER, severity, score, text)


def _reverted_move(
    panel: Panel, raw: RawFeatures, norm: Normalized, config: RuleConfig, k: int
) -> str | None:
    """The previous bar's move when this bar undoes it and that move was a suspect jump."""
    index = int(norm.index[k])
    before = int(raw.previous[index])
    if before < 0:
        return None
    now, then = raw.excess_ret[index], raw.excess_ret[before]
    if not (np.isfinite(now) and np.isfinite(then)) or now * then >= 0:
        return None
    if abs(then) / norm.ret_sigma[k] < config.return_levels[2]:
        return None
    if abs(now + then) > 0.35 * abs(then):
        return None
    return _pct(float(raw.ret[before]))


def check_ranges(panel: Panel, norm: Normalized, config: RuleConfig, sink: FindingSink) -> None:
    """Highs or lows far beyond the bar's open and close (bad prints), measured in the symbol's
    median range; a large body (a genuine big move) does not count, only the wick."""
    i = norm.index
    o, h, low, c = panel.open[i], panel.high[i], panel.low[i], panel.close[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.log(h / np.maximum(o, c))
        lower = np.log(np.minimum(o, c) / low)
        ratio = np.maximum(upper, lower) / norm.range_median
    market = cross_median(panel.time[i], ratio, config.min_market_symbols)
    for k in np.flatnonzero(np.nan_to_num(ratio) >= config.range_levels[0]):
        severity, score = graded(float(ratio[k]), config.range_levels)
        side = (
            f"high {h[k]:g} is {np.expm1(upper[k]):.1%} above"
            if upper[k] >= lower[k]
            else f"low {low[k]:g} is {-np.expm1(-lower[k]):.1%} below"
        )
        text = f"the {side} the open/close, x{ratio[k]:.1f} the symbol's median range"
        if np.isfinite(market[k]) and market[k] >= config.market_wide_range_ratio:
            severity, score = capped(severity, score, Severity.MEDIUM)
            text += f" (market-wide: the median symbol's wick was x{market[k]:.1f} its range)"
        sink.add(panel.row[i[k]], Check.PRICE_OUTLIER, severity, score, text)


def check_volume(panel: Panel, norm: Normalized, config: RuleConfig, sink: FindingSink) -> None:
    """Volume far above or below the symbol's usual volume, unless the bar explains it."""
    ratio = norm.volume_ratio
    market = cross_median(panel.time[norm.index], ratio, config.min_market_symbols)
    high_z = np.nan_to_num(norm.z_vol)
    for k in np.flatnonzero(
        (high_z >= config.volume_levels[0]) | (high_z <= -config.low_volume_levels[0])
    ):
        index = int(norm.index[k])
        z = float(high_z[k])
        if z > 0:
            severity, score = graded(z, config.volume_levels)
            if ratio[k] >= config.volume_ratio_critical:
                severity, score = Severity.CRITICAL, band_score(Severity.CRITICAL, 0.5)
            elif ratio[k] >= config.volume_ratio_high and severity < Severity.HIGH:
                severity, score = Severity.HIGH, band_score(Severity.HIGH, 0.0)
            elif ratio[k] >= config.volume_ratio_medium and severity < Severity.MEDIUM:
                severity, score = Severity.MEDIUM, band_score(Severity.MEDIUM, 0.0)
        else:
            severity, score = graded(-z, config.low_volume_levels)
            if ratio[k] <= 1 / config.volume_ratio_high and severity < Severity.HIGH:
                severity, score = Severity.HIGH, band_score(Severity.HIGH, 0.0)
        text = (
            f"volume {panel.volume[index]:,.0f} is x{ratio[k]:.3g} the symbol's median "
            f"({z:+.1f} robust σ of log volume)"
        )
        if z > 0 and abs(norm.z_ret[k]) >= config.explain_return_z:
            severity, score = capped(severity, score, Severity.LOW)
            text += f"; explained by the bar's {abs(norm.z_ret[k]):.1f} σ price move"
        elif (
            np.isfinite(market[k])
            and (market[k] >= 2.0 or market[k] <= 0.5)
            and ((market[k] > 1) == (z > 0))
        ):
            severity, score = capped(severity, score, Severity.LOW)
            text += f" (market-wide: the median symbol traded x{market[k]:.2g} its norm)"
        sink.add(panel.row[index], Check.VOLUME_OUTLIER, severity, score, text)


def check_splits(
    panel: Panel, raw: RawFeatures, norm: Normalized, config: RuleConfig, sink: FindingSink
) -> set[int]:
    """Overnight price ratios matching a split ratio, without a crash-sized volume burst.
    Returns the positions (in `norm`) of the split-like targets."""
    matched: set[int] = set()
    index = norm.index
    big = np.nan_to_num(np.abs(norm.z_ret)) >= config.return_levels[1]
    for k in np.flatnonzero(big):
        i = int(index[k])
        gap, ret = raw.excess_gap[i], raw.excess_ret[i]
        if not (np.isfinite(gap) and np.isfinite(ret)):
            continue
        match = _split_match(gap, ret, float(norm.ret_sigma[k]), config)
        if match is None:
            continue
        factor, closeness = match
        ratio = float(norm.volume_ratio[k])
        burst = min(ratio, ratio * factor) if np.isfinite(ratio) else 1.0
        if burst >= config.split_max_volume_ratio:
            continue
        matched.add(int(k))
        what = f"an unadjusted {_split_name(factor)}"
        sink.add(
            panel.row[i],
            Check.SPLIT_JUMP,
            Severity.CRITICAL,
            band_score(Severity.CRITICAL, closeness),
            f"open {panel.open[i]:g} and close {panel.close[i]:g} are "
            f"x{np.exp(raw.ret[i]):.3f} the previous close {raw.previous_close[i]:g}, "
            f"like {what}; volume "
            + (f"x{ratio:.1f} the median" if np.isfinite(ratio) else "unknown")
            + " (no crash-sized burst)",
        )
    return matched


def _split_match(
    gap: float, ret: float, sigma: float, config: RuleConfig
) -> tuple[float, float] | None:
    """(price factor, closeness in [0, 1]) of the split ratio both moves match, if any."""
    gap_tolerance = config.split_tolerance + 2 * sigma
    ret_tolerance = config.split_tolerance + 4 * sigma
    for ratio in config.split_ratios:
        for factor in (1.0 / ratio, ratio):
            target = np.log(factor)
            miss = max(abs(gap - target) / gap_tolerance, abs(ret - target) / ret_tolerance)
            if miss <= 1.0:
                return factor, 1.0 - miss
    return None


def _split_name(factor: float) -> str:
    """'2-for-1 split' for a price factor of 1/2, '1-for-3 reverse split' for 3."""
    shares = Fraction(1 / factor).limit_denominator(10)
    kind = "split" if factor < 1 else "reverse split"
    return f"{shares.numerator}-for-{shares.denominator} {kind}"
