"""Where a run's data comes from: a provider of engine sources that also says what they read.

The service hands the engine fresh sources for every run (`for_run`), so each run records its
own provenance: the data watermark of the bars it read and the model and feature versions its
signal, regime and feature reads resolved to. `missing_symbols` lets a submit be refused before
anything runs when the config names symbols the data does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from backtest.config import Frequency, StrategyConfig
from backtest.sources import Sources
from services.backtest.domain.records import Provenance


@dataclass(frozen=True)
class RunSources:
    """The engine sources of one run and, once it has read them, what they read."""

    sources: Sources
    provenance: Callable[[], Provenance]


class SourceProvider(Protocol):
    def for_run(self, config: StrategyConfig) -> RunSources:
        """Fresh sources for one run of `config`."""
        ...

    async def missing_symbols(self, symbols: Sequence[str], frequency: Frequency) -> set[str]:
        """The symbols among `symbols` that have no bars at `frequency`."""
        ...
