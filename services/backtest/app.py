"""The backtest service as the server bootstrap hosts it: settings, the KPI store, operations."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import duckdb
from grpc import aio
from quantmesh.backtest.v1 import backtest_pb2, backtest_pb2_grpc

from services.backtest.domain.service import Backtests
from services.backtest.domain.store import BacktestStore
from services.backtest.mesh_sources import MeshSources
from services.backtest.servicer import BacktestServicer
from services.regime.domain.regimes import Regime
from services.runtime.operations.manager import OperationManager
from services.runtime.operations.store import OperationStore
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings, SettingsError, env, load

SERVICE_NAME = backtest_pb2.DESCRIPTOR.services_by_name["BacktestService"].full_name
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BacktestSettings:
    db_path: Path | None = env(
        "QUANTMESH_BACKTEST_DB",
        None,
        "backtest's DuckDB file (backtests, KPIs, equity curves, trades, operations); default "
        "`$QUANTMESH_DATA_DIR/backtest.duckdb`.",
    )
    max_running: int = env(
        "QUANTMESH_BACKTEST_MAX_RUNNING",
        2,
        "Backtests simulated at once; later submits wait PENDING for a free slot.",
    )
    max_universe: int = env(
        "QUANTMESH_BACKTEST_MAX_UNIVERSE",
        1_000,
        "Most symbols in one strategy's universe; more are INVALID_ARGUMENT.",
    )
    max_score_rows: int = env(
        "QUANTMESH_BACKTEST_SCORE_BATCH_ROWS",
        100_000,
        "Rows per ScoreBatch call to the signal service (at most its QUANTMESH_SIGNAL_MAX_BATCH_"
        "ROWS).",
    )
    fetch_timeout_s: float = env(
        "QUANTMESH_BACKTEST_FETCH_TIMEOUT_S",
        300.0,
        "Deadline of each read from marketdata, signal and regime during a run.",
    )
    run_timeout_s: float = env(
        "QUANTMESH_BACKTEST_RUN_TIMEOUT_S",
        3_600.0,
        "Time a run's reads may take in all; later reads fail with DEADLINE_EXCEEDED.",
    )


class BacktestService:
    name = "backtest"
    service_names: tuple[str, ...] = (SERVICE_NAME,)

    def __init__(
        self, runtime: RuntimeSettings, peers: Peers, settings: BacktestSettings | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = settings or load(BacktestSettings)
        if self.settings.max_running < 1 or self.settings.max_universe < 1:
            raise SettingsError(
                "QUANTMESH_BACKTEST_MAX_RUNNING and QUANTMESH_BACKTEST_MAX_UNIVERSE must be >= 1"
            )
        if self.settings.max_score_rows < 1:
            raise SettingsError("QUANTMESH_BACKTEST_SCORE_BATCH_ROWS must be >= 1")
        self.db_path = self.settings.db_path or runtime.data_dir / "backtest.duckdb"
        self.sources = MeshSources(
            runtime,
            peers,
            max_score_rows=self.settings.max_score_rows,
            timeout_s=self.settings.fetch_timeout_s,
        )
        self.domain: Backtests | None = None
        self._operations: OperationManager | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None

    @property
    def operations(self) -> OperationManager | None:
        return self._operations

    async def start(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(str(self.db_path))
        self.domain = Backtests(
            BacktestStore(self._connection),
            self.sources,
            max_universe=self.settings.max_universe,
            max_running=self.settings.max_running,
            run_timeout_s=self.settings.run_timeout_s,
            regime_labels=[r.name for r in Regime],
        )
        for backtest_id in self.domain.recover():
            log.warning("backtest %s was interrupted by a restart", backtest_id)
        self._operations = OperationManager(self.name, OperationStore(self._connection.cursor()))
        await self._operations.start()

    def register(self, server: aio.Server) -> None:
        assert self.domain is not None and self._operations is not None, "start() first"
        backtest_pb2_grpc.add_BacktestServiceServicer_to_server(
            BacktestServicer(self.domain, self._operations), server
        )

    async def close(self) -> None:
        if self._operations is not None:
            await self._operations.close()
        await self.sources.close()
        if self.domain is not None:
            self.domain.store.close()
        if self._connection is not None:
            self._connection.close()
