"""The demo report's PNG plots (matplotlib, headless): equity with forecast bands, drawdown,
regime shading and quality events. Each function takes plain data and writes one file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REGIME_COLOURS = {
    "CALM_UPTREND": "#b7e4c7",
    "RANGE_BOUND": "#e9ecef",
    "DOWNTREND": "#ffd6a5",
    "HIGH_VOL_STRESS": "#ffadad",
}
SEVERITY_COLOURS = {"LOW": "#8d99ae", "MEDIUM": "#f4a261", "HIGH": "#e76f51", "CRITICAL": "#9d0208"}
LINE_COLOURS = ("#1d3557", "#8d99ae", "#2a9d8f", "#e76f51")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    _pyplot().close(figure)


def shade_regimes(axes: Any, times: Sequence[datetime], regimes: Sequence[str]) -> None:
    """Shade each run of one regime across the axes' height."""
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or regimes[i] != regimes[start]:
            end = times[i] if i < len(times) else times[-1]
            axes.axvspan(times[start], end, color=REGIME_COLOURS[regimes[start]], lw=0)
            start = i


def regime_legend(axes: Any) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=n.lower().replace("_", " ")) for n, c in REGIME_COLOURS.items()]
    axes.legend(handles=handles, loc="upper left", fontsize=8)


def regime_chart(path: Path, chart: dict[str, Any]) -> None:
    """The price of one symbol with its regimes shaded behind it."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(11, 4))
    shade_regimes(axes, chart["times"], chart["regimes"])
    axes.plot(chart["bar_times"], chart["closes"], color=LINE_COLOURS[0], lw=1)
    axes.set_title(f"{chart['symbol']}: close, shaded by regime (causal, filtered)")
    regime_legend(axes)
    _save(figure, path)


def future_sessions(last: datetime, count: int) -> list[datetime]:
    """The `count` business days after `last`: where a forecast's steps fall on the chart."""
    return list(pd.bdate_range(last, periods=count + 1, tz=last.tzinfo)[1:].to_pydatetime())


def equity_chart(
    path: Path,
    curves: dict[str, dict[str, list[Any]]],
    bands: dict[str, list[list[float]]],
    percentiles: Sequence[float],
) -> None:
    """Equity curves (growth of 1) and, after the first curve's end, its forecast bands:
    the first method as a fan (outer and inner bands), the others as dashed outer bounds."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(11, 4.5))
    for (label, curve), colour in zip(curves.items(), LINE_COLOURS, strict=False):
        equity = np.asarray(curve["equity"], dtype=float)
        axes.plot(curve["times"], equity / equity[0], color=colour, lw=1.2, label=label)
    first = next(iter(curves.values()))
    last_time, last_value = first["times"][-1], first["equity"][-1] / first["equity"][0]
    outer = (0, len(percentiles) - 1)
    for index, (method, table) in enumerate(bands.items()):
        steps = np.asarray(table, dtype=float)  # percentiles x horizon, cumulative return
        times = [last_time, *future_sessions(last_time, steps.shape[1])]
        level = last_value * (1 + np.hstack([np.zeros((steps.shape[0], 1)), steps]))
        lo, hi = level[outer[0]], level[outer[1]]
        span = f"p{percentiles[outer[0]]:g}-p{percentiles[outer[1]]:g}"
        if index == 0:
            axes.fill_between(
                times, lo, hi, color="#a8dadc", alpha=0.6, lw=0, label=f"{method} {span}"
            )
            if len(percentiles) >= 5:
                axes.fill_between(times, level[1], level[-2], color="#457b9d", alpha=0.35, lw=0)
            axes.plot(times, level[len(percentiles) // 2], color="#457b9d", lw=1, ls=":")
        else:
            colour = LINE_COLOURS[(index + 2) % len(LINE_COLOURS)]
            axes.plot(times, lo, color=colour, lw=1, ls="--", label=f"{method} {span}")
            axes.plot(times, hi, color=colour, lw=1, ls="--")
    axes.set_title("equity (growth of 1) out of sample, and the strategy's forecast bands")
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    _save(figure, path)


def drawdowns(equity: Sequence[float]) -> np.ndarray:
    """Drawdown from the running peak at every point (0 at a new high, negative below)."""
    values = np.asarray(equity, dtype=float)
    return values / np.maximum.accumulate(values) - 1


def drawdown_chart(path: Path, curves: dict[str, dict[str, list[Any]]]) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(11, 3.2))
    for (label, curve), colour in zip(curves.items(), LINE_COLOURS, strict=False):
        depth = drawdowns(curve["equity"])
        axes.plot(curve["times"], depth * 100, color=colour, lw=1, label=label)
        if colour == LINE_COLOURS[0]:
            axes.fill_between(curve["times"], depth * 100, 0, color=colour, alpha=0.15, lw=0)
    axes.set_ylabel("drawdown %")
    axes.set_title("drawdown from the running peak")
    axes.legend(loc="lower left", fontsize=8)
    axes.grid(alpha=0.3)
    _save(figure, path)


def quality_chart(
    path: Path, events: Sequence[dict[str, Any]], first: datetime, last: datetime
) -> None:
    """Every stored quality event by date and symbol, coloured by severity."""
    plt = _pyplot()
    symbols = sorted({e["symbol"] for e in events})
    figure, axes = plt.subplots(figsize=(11, max(2.5, 0.28 * len(symbols) + 1.2)))
    rows = {s: i for i, s in enumerate(symbols)}
    for severity, colour in SEVERITY_COLOURS.items():
        mine = [e for e in events if e["severity"] == severity]
        if mine:
            axes.scatter(
                [e["time"] for e in mine],
                [rows[e["symbol"]] for e in mine],
                color=colour,
                s=28,
                label=f"{severity.lower()} ({len(mine)})",
                zorder=3,
            )
    axes.set_yticks(range(len(symbols)), symbols, fontsize=7)
    axes.set_xlim(first, last)
    axes.set_ylim(-1, max(len(symbols), 1))
    axes.grid(alpha=0.3)
    title = f"data-quality events: {len(events)} stored by the sentinel at ingest"
    axes.set_title(title if events else "data-quality events: none stored at ingest")
    if events:
        axes.legend(loc="upper left", fontsize=8)
    _save(figure, path)
