"""The cache of fitted models, per bar frequency: Isolation Forests and Prophet forecasts.

Each entry carries its data end (the last bar it learned from) and when it was fitted, so the
trainer can tell which symbols are due for a refit. Reads and writes are thread-safe; checks read
whatever is cached and never wait for a fit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.config import IsolationMode, ModelConfig
from services.quality.domain.isolation import POOLED_KEY, IsolationModel
from services.quality.domain.prophet_model import ProphetForecast, Target
from services.quality.domain.sink import to_datetime


class ModelKind(StrEnum):
    ISOLATION = "isolation"
    PROPHET_CLOSE = "prophet_close"
    PROPHET_VOLUME = "prophet_volume"


@dataclass(frozen=True)
class ModelInfo:
    """What a cached model is: its kind, symbol (or '*' pooled), data end and fit time."""

    kind: ModelKind
    key: str
    frequency: Frequency
    rows: int
    data_end: datetime
    fitted_at: datetime


Model = IsolationModel | ProphetForecast


def _kind(model: Model) -> ModelKind:
    if isinstance(model, IsolationModel):
        return ModelKind.ISOLATION
    return ModelKind.PROPHET_CLOSE if model.target is Target.CLOSE else ModelKind.PROPHET_VOLUME


def _key(model: Model) -> str:
    return model.key if isinstance(model, IsolationModel) else model.symbol


class ModelCache:
    """Fitted models by (frequency, kind, symbol or '*')."""

    def __init__(self) -> None:
        self._models: dict[tuple[Frequency, ModelKind, str], Model] = {}
        self._lock = threading.Lock()

    def put(self, frequency: Frequency, model: Model) -> None:
        with self._lock:
            self._models[(frequency, _kind(model), _key(model))] = model

    def isolation(self, frequency: Frequency, key: str) -> IsolationModel | None:
        model = self._models.get((frequency, ModelKind.ISOLATION, key))
        return model if isinstance(model, IsolationModel) else None

    def forecast(self, frequency: Frequency, target: Target, symbol: str) -> ProphetForecast | None:
        kind = ModelKind.PROPHET_CLOSE if target is Target.CLOSE else ModelKind.PROPHET_VOLUME
        model = self._models.get((frequency, kind, symbol))
        return model if isinstance(model, ProphetForecast) else None

    def infos(self) -> list[ModelInfo]:
        with self._lock:
            items = list(self._models.items())
        return [
            ModelInfo(
                kind, key, frequency, model.rows, to_datetime(model.data_end_us), model.fitted_at
            )
            for (frequency, kind, key), model in sorted(items, key=lambda item: item[0])
        ]

    def symbols(self, frequency: Frequency) -> list[str]:
        """Symbols with a cached model of `frequency` (those a pooled forest learned from too)."""
        with self._lock:
            models = [(key, m) for (freq, _, key), m in self._models.items() if freq is frequency]
        keys = {key for key, _ in models} - {POOLED_KEY}
        for _, model in models:
            if isinstance(model, IsolationModel):
                keys |= set(model.symbols)
        return sorted(keys)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def due(
        self,
        symbols: Iterable[str],
        frequency: Frequency,
        config: ModelConfig,
        now: datetime,
        day: int | None = None,
    ) -> list[str]:
        """Symbols with an enabled model that is missing, older than `config.max_age`, or
        (Prophet, when `day` is given) whose forecast does not reach `day`."""
        oldest = now - config.max_age
        pooled = config.isolation.mode is IsolationMode.POOLED

        def stale(model: Model | None) -> bool:
            return model is None or model.fitted_at < oldest

        result = []
        pooled_due = (
            config.isolation.enabled and pooled and stale(self.isolation(frequency, POOLED_KEY))
        )
        for symbol in dict.fromkeys(symbols):
            due = pooled_due
            if config.isolation.enabled and not pooled:
                due |= stale(self.isolation(frequency, symbol))
            if config.prophet.enabled and frequency is Frequency.DAILY:
                for target in Target:
                    forecast = self.forecast(frequency, target, symbol)
                    due |= stale(forecast)
                    if forecast is not None and day is not None and not forecast.covers(day):
                        due = True
            if due:
                result.append(symbol)
        return result
