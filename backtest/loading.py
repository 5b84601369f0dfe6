"""Reading a run's inputs: one bulk call per source, concurrently, with a warm-up margin
before `start` so indicators are full on the first traded bar."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

import pyarrow as pa

from backtest.config import Frequency, PriceField, RuleSource, SizingMethod, StrategyConfig
from backtest.market import MarketInputs
from backtest.sources import Sources
from services.runtime.errors import FailedPrecondition

T = TypeVar("T")


def warmup_bars(config: StrategyConfig) -> int:
    """Bars of history the strategy's indicators need before the first traded bar."""
    need = 1
    for _, rule in config.all_rules():
        if rule.source is RuleSource.PRICE:
            if rule.field in (PriceField.SMA_CROSS, PriceField.SMA_SPREAD):
                need = max(need, rule.slow + 1)  # +1: crossings compare with the bar before
            else:
                need = max(need, rule.window + 1)
    if config.sizing.method is SizingMethod.VOLATILITY_TARGET:
        need = max(need, config.sizing.volatility_window + 1)
    return need


def load_start(config: StrategyConfig) -> datetime | None:
    """Where reading starts: `start` less a calendar margin covering the warm-up bars."""
    if config.start is None:
        return None
    bars = warmup_bars(config)
    if config.frequency is Frequency.DAILY:
        days = math.ceil(bars * 7 / 5) + 10  # weekends and holidays
    else:
        days = math.ceil(bars / 100) + 4  # sparse minutes, nights and weekends
    return config.start - timedelta(days=days)


async def fetch_inputs(config: StrategyConfig, sources: Sources) -> MarketInputs:
    """Every table the strategy reads, one call per source, concurrently."""
    start, end = load_start(config), config.end
    symbols = (*config.universe, *config.extra_symbols())
    signals = _needed(sources.signals, "signal", config.uses(RuleSource.SIGNAL))
    regimes = _needed(sources.regimes, "regime", config.uses(RuleSource.REGIME))
    features = _needed(sources.features, "feature", config.uses(RuleSource.FEATURE))
    calls: dict[str, Awaitable[pa.Table]] = {
        "bars": sources.bars.bars(symbols, config.frequency, start, end)
    }
    if signals is not None:
        assert config.signal_model is not None
        calls["signals"] = signals.scores(
            config.signal_model, symbols, config.frequency, start, end
        )
    if regimes is not None:
        assert config.regime_model is not None
        calls["regimes"] = regimes.regimes(config.regime_model, symbols, start, end)
    if features is not None:
        assert config.feature_view is not None
        names = tuple(
            dict.fromkeys(r.field for _, r in config.all_rules() if r.source is RuleSource.FEATURE)
        )
        calls["features"] = features.features(
            config.feature_view,
            config.feature_version,
            names,
            symbols,
            config.frequency,
            start,
            end,
        )
    tables = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    return MarketInputs(
        tables["bars"], tables.get("signals"), tables.get("regimes"), tables.get("features")
    )


def _needed(source: T | None, kind: str, used: bool) -> T | None:
    """The source when the strategy reads it (FailedPrecondition when it is missing)."""
    if not used:
        return None
    if source is None:
        raise FailedPrecondition(
            f"the strategy reads {kind}s but the engine has no {kind} source",
            reason="SOURCE_MISSING",
            metadata={"source": kind},
        )
    return source
