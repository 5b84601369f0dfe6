"""Fitting the learned models from history, off the event loop.

`prepare_training` turns a history table into per-symbol arrays (features, closes, volumes);
`ModelTrainer` fits Isolation Forests and Prophet forecasts from them in an executor (a thread
pool it creates up front, or any executor passed in, such as a process pool made before gRPC
starts: every fit task is a top-level function of plain numpy arrays) and stores them in the
cache. `schedule` refreshes due symbols in the background; `refresh(force=True)` on demand.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency, normalize_bars
from services.quality.domain.calendar import calendar, day_numbers
from services.quality.domain.config import FeatureSpace, IsolationMode, ModelConfig, RuleConfig
from services.quality.domain.features import normalize, raw_features
from services.quality.domain.history import HistorySource
from services.quality.domain.isolation import POOLED_KEY, IsolationModel, fit_isolation
from services.quality.domain.models import ModelCache
from services.quality.domain.panel import build_panel
from services.quality.domain.prophet_model import ProphetForecast, Target, fit_forecast

log = logging.getLogger("quantmesh.quality.training")
T = TypeVar("T")


@dataclass(frozen=True)
class SymbolHistory:
    """One symbol's history as arrays; `features` rows x 4 in the configured feature space."""

    symbol: str
    times_us: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    features: np.ndarray

    @property
    def data_end_us(self) -> int:
        return int(self.times_us[-1])


@dataclass(frozen=True)
class FitReport:
    """What one fit round did; `skipped` entries read "SYMBOL: why"."""

    symbols: list[str]
    fitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def prepare_training(
    history: pa.Table, frequency: Frequency, rules: RuleConfig, space: FeatureSpace
) -> list[SymbolHistory]:
    """Per-symbol arrays of a history table, with the model features of every bar."""
    table = normalize_bars(history)
    if table.num_rows == 0:
        return []
    everything = np.ones(table.num_rows, dtype=bool)
    panel = build_panel(table, everything, None, everything, everything)
    raw = raw_features(panel, rules, daily=frequency is Frequency.DAILY)
    if space is FeatureSpace.NORMALIZED:
        matrix = normalize(panel, raw, np.arange(len(panel)), rules).matrix()
    else:
        matrix = np.column_stack([raw.ret, raw.gap, raw.log_range, raw.log_volume])
    starts = np.flatnonzero(np.diff(panel.group, prepend=-1))
    ends = np.append(starts[1:], len(panel))
    return [
        SymbolHistory(
            symbol=panel.symbols[g],
            times_us=panel.time[lo:hi],
            close=panel.close[lo:hi],
            volume=panel.volume[lo:hi],
            features=matrix[lo:hi],
        )
        for g, (lo, hi) in enumerate(zip(starts, ends, strict=True))
    ]


def _fit_forecasts(
    series: SymbolHistory, horizon_days: np.ndarray, config: ModelConfig
) -> list[ProphetForecast]:
    fits = (
        fit_forecast(series.symbol, target, series.times_us, values, horizon_days, config.prophet)
        for target, values in ((Target.CLOSE, series.close), (Target.VOLUME, series.volume))
    )
    return [fit for fit in fits if fit is not None]


def fit_pooled(series: Sequence[SymbolHistory], config: ModelConfig) -> IsolationModel | None:
    """One forest over the last `config.history_sessions` rows of every symbol."""
    iso = config.isolation
    last = config.history_sessions
    model = fit_isolation(
        POOLED_KEY,
        np.concatenate([s.features[-last:] for s in series]),
        max(s.data_end_us for s in series),
        iso.features,
        iso,
    )
    return None if model is None else replace(model, symbols=tuple(s.symbol for s in series))


class ModelTrainer:
    """Fits models into a cache without blocking the event loop."""

    def __init__(
        self,
        cache: ModelCache,
        config: ModelConfig | None = None,
        rules: Callable[[Frequency], RuleConfig] = RuleConfig.for_frequency,
        executor: Executor | None = None,
    ) -> None:
        self.cache = cache
        self.config = config or ModelConfig()
        self._rules = rules
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=max(1, min(4, (os.cpu_count() or 2))), thread_name_prefix="quality-fit"
        )
        self._in_flight: set[tuple[Frequency, str]] = set()
        self._tasks: set[asyncio.Task[FitReport]] = set()

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def fit(
        self, history: pa.Table, frequency: Frequency, symbols: Sequence[str] | None = None
    ) -> FitReport:
        """Fit every enabled model of `symbols` (all in `history` when None) from `history`."""
        started = datetime.now(UTC)
        config = self.config
        prepared = await self._run(
            prepare_training, history, frequency, self._rules(frequency), config.isolation.features
        )
        wanted = set(symbols) if symbols is not None else None
        keep = [s for s in prepared if wanted is None or s.symbol in wanted]
        last = config.history_sessions
        jobs: list[asyncio.Future[object]] = []
        iso = config.isolation
        if iso.enabled and keep:
            if iso.mode is IsolationMode.POOLED:
                jobs.append(asyncio.ensure_future(self._run(fit_pooled, prepared, config)))
            else:
                for s in keep:
                    jobs.append(
                        asyncio.ensure_future(
                            self._run(
                                fit_isolation,
                                s.symbol,
                                s.features[-last:],
                                s.data_end_us,
                                iso.features,
                                iso,
                            )
                        )
                    )
        if config.prophet.enabled and frequency is Frequency.DAILY:
            sessions = calendar()
            for s in keep:
                horizon = sessions.sessions_after(
                    int(day_numbers(np.array([s.data_end_us]))[0]), config.prophet.horizon_sessions
                )
                jobs.append(asyncio.ensure_future(self._run(_fit_forecasts, s, horizon, config)))
        fitted: set[str] = set()
        for result in await asyncio.gather(*jobs):
            models = result if isinstance(result, list) else [result]
            for model in models:
                if isinstance(model, IsolationModel | ProphetForecast):
                    self.cache.put(frequency, model)
                    fitted.add(model.key if isinstance(model, IsolationModel) else model.symbol)
        names = [s.symbol for s in keep]
        if POOLED_KEY in fitted:
            fitted |= set(names)
        lengths = {s.symbol: len(s.times_us) for s in prepared}
        needed = min(config.isolation.min_rows, config.prophet.min_rows)
        missing = sorted(set(symbols or ()) - set(lengths))
        skipped = [
            f"{name}: {lengths[name]} bars of history, fewer than the {needed} a fit needs"
            for name in sorted(set(names) - fitted)
        ] + [f"{name}: no history" for name in missing]
        return FitReport(
            symbols=names + missing,
            fitted=sorted(fitted - {POOLED_KEY}),
            skipped=skipped,
            elapsed_s=(datetime.now(UTC) - started).total_seconds(),
        )

    async def refresh(
        self,
        source: HistorySource,
        symbols: Sequence[str],
        frequency: Frequency,
        *,
        before: datetime | None = None,
        force: bool = False,
    ) -> FitReport:
        """Fit the due models of `symbols` (all of them when `force`) from `source`'s history."""
        now = datetime.now(UTC)
        due = (
            list(dict.fromkeys(symbols))
            if force
            else self.cache.due(symbols, frequency, self.config, now)
        )
        if not due:
            return FitReport(symbols=[])
        lookback = self.config.history_sessions + self._rules(frequency).window
        history = await source.history(due, frequency, before or now, lookback)
        return await self.fit(history, frequency, due)

    def schedule(
        self,
        source: HistorySource,
        symbols: Sequence[str],
        frequency: Frequency,
        day: int | None = None,
        before: datetime | None = None,
    ) -> asyncio.Task[FitReport] | None:
        """Refresh the due symbols not already being fitted, in the background, from history
        before `before` (now when None); `day` is the day number a forecast must reach."""
        due = self.cache.due(symbols, frequency, self.config, datetime.now(UTC), day)
        fresh = [s for s in due if (frequency, s) not in self._in_flight]
        if not fresh:
            return None
        keys = {(frequency, s) for s in fresh}
        self._in_flight |= keys

        async def run() -> FitReport:
            try:
                return await self.refresh(source, fresh, frequency, before=before, force=True)
            except Exception:
                log.exception("background refit of %d symbols failed", len(fresh))
                return FitReport(symbols=fresh, skipped=[f"{s}: the fit failed" for s in fresh])
            finally:
                self._in_flight -= keys

        task = asyncio.get_running_loop().create_task(run(), name="quality-refit")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_idle(self) -> None:
        """Wait for every scheduled refit to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel scheduled refits and shut the executor down if this trainer made it."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
