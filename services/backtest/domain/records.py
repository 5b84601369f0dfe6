"""A backtest run as the service keeps it: config, state, provenance, KPIs, error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from backtest.config import StrategyConfig
from backtest.kpis import Kpis
from services.runtime.errors import InvalidArgument

PREFIX = "backtests/"


class BacktestState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (BacktestState.SUCCEEDED, BacktestState.FAILED, BacktestState.CANCELLED)


@dataclass(frozen=True)
class ModelUsed:
    """A model version a run read (an alias resolved at read time)."""

    name: str
    version: int
    feature_version: str = ""

    @property
    def ref(self) -> str:
        """The pinned reference "name/version", as model settings and requests spell it."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Provenance:
    """What a run ran on: the data snapshot and the model and feature versions."""

    data_watermark: datetime | None = None
    signal_model: ModelUsed | None = None
    regime_model: ModelUsed | None = None
    feature_view: str = ""
    feature_version: str = ""
    #: Reasons to distrust the results, e.g. a signal model trained on the backtest's bars.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunError:
    """Why a run failed or was cancelled: a status code name, message, reason, fields."""

    code: str
    message: str
    reason: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class BacktestRecord:
    id: str
    config: StrategyConfig
    state: BacktestState
    create_time: datetime
    operation: str = ""
    request_id: str = ""
    progress: float = 0.0
    progress_message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    kpis: Kpis | None = None
    provenance: Provenance = field(default_factory=Provenance)
    error: RunError | None = None
    bar_count: int = 0
    trade_count: int = 0

    @property
    def name(self) -> str:
        return backtest_name(self.id)


def backtest_name(backtest_id: str) -> str:
    return f"{PREFIX}{backtest_id}"


def parse_backtest_name(name: str, field: str = "name") -> str:
    """The id of "backtests/{id}" or of a bare id; InvalidArgument for anything else."""
    text = name.strip()
    backtest_id = text.removeprefix(PREFIX)
    if not backtest_id or "/" in backtest_id or len(backtest_id) > 100:
        raise InvalidArgument.for_field(field, f"{name!r} is not 'backtests/{{id}}' or an id")
    return backtest_id
