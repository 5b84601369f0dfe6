"""The engine's sources over the mesh: bars and features from marketdata, scores from the signal
service, regime labels from the regime service, each read in bulk (never one call per bar).

- bars: one GetBars stream for every symbol the run reads; its latest `ingested_at` is the
  run's data watermark;
- signal scores: ScoreBatch over the (symbol, time) rows of those bars, in chunks of at most
  `max_score_rows` (the signal service's batch limit), the model pinned to the version the
  first chunk resolved so an alias moving mid-run cannot mix versions;
- regimes: one GetRegimeHistory stream for the symbols the regime rules read;
- features: one GetFeatures stream of the named features.

Each run gets its own `MeshRun`, which records the versions it read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from quantmesh.common.v1 import arrow_pb2
from quantmesh.common.v1.time_range_pb2 import TimeRange
from quantmesh.regime.v1 import regime_pb2
from quantmesh.signal.v1 import signal_pb2

from backtest.config import Frequency, RuleSource, StrategyConfig
from backtest.market import SIGNAL_COLUMN
from backtest.sources import Sources
from services.backtest.domain.ports import RunSources
from services.backtest.domain.records import ModelUsed, Provenance
from services.clients.mesh import MeshClient
from services.clients.regime import RegimeClient
from services.clients.signal import SignalClient
from services.regime.domain.service import HISTORY_SCHEMA
from services.runtime.arrow_frames import concat_tables, decode_table, encode_table
from services.runtime.errors import QuantmeshError
from services.runtime.model_refs import ModelRef, ref_to_pb
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings
from services.runtime.time_convert import optional_from_timestamp, to_time_range

SCORE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string()),
        pa.field("time", pa.timestamp("us", tz="UTC")),
        pa.field(SIGNAL_COLUMN, pa.float64()),
    ]
)
REGIME_COLUMNS = ["symbol", "time", "regime"]
log = logging.getLogger(__name__)


def _day(moment: datetime | None, open_side: str) -> str:
    return open_side if moment is None else moment.date().isoformat()


class ScoringClient(SignalClient):
    """The signal client with the model version of a batch (ScoreBatch's reply carries it)."""

    async def score_rows(
        self, model: ModelRef, rows: pa.Table, *, timeout: float | None = None
    ) -> tuple[ModelUsed, pa.Table]:
        request = signal_pb2.ScoreBatchRequest(
            model=ref_to_pb(model),
            rows=arrow_pb2.ArrowFrame(ipc_stream=encode_table(rows), row_count=rows.num_rows),
        )
        response = await self._unary(self._stub.ScoreBatch, request, timeout)
        used = ModelUsed(response.model_name, response.model_version, response.feature_version)
        return used, decode_table(response.scores.ipc_stream)


class RegimeHistoryClient(RegimeClient):
    """The regime client with the model version of a history (every chunk carries it)."""

    async def history_with_model(
        self,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
        model: ModelRef,
        *,
        timeout: float | None = None,
    ) -> tuple[ModelUsed | None, pa.Table]:
        request = regime_pb2.GetRegimeHistoryRequest(
            symbols=list(symbols), time_range=to_time_range(start, end), model=ref_to_pb(model)
        )
        used: ModelUsed | None = None
        chunks: list[pa.Table] = []
        async for message in self._stream(self._stub.GetRegimeHistory, request, timeout):
            used = ModelUsed(message.model_name, message.model_version, message.feature_version)
            chunks.append(decode_table(message.frame.ipc_stream))
        return used, concat_tables(chunks, HISTORY_SCHEMA)


def _rule_symbols(config: StrategyConfig, source: RuleSource) -> tuple[str, ...]:
    """The symbols a source's rules read: the universe when any reads each symbol's own
    value, plus the fixed symbols of market-filter rules."""
    rules = [r for _, r in config.all_rules() if r.source is source]
    own = any(r.symbol is None for r in rules) or (
        source is RuleSource.SIGNAL and config.uses(RuleSource.SIGNAL) and not rules
    )
    fixed = [r.symbol for r in rules if r.symbol]
    return tuple(dict.fromkeys([*(config.universe if own else ()), *fixed]))


class MeshRun:
    """The sources of one run over the mesh, and what they read."""

    def __init__(
        self,
        mesh: MeshClient,
        config: StrategyConfig,
        *,
        max_score_rows: int,
        timeout_s: float,
    ) -> None:
        self._mesh = mesh
        self._config = config
        self._max_score_rows = max_score_rows
        self._timeout_s = timeout_s
        self._bars: dict[tuple[object, ...], asyncio.Task[pa.Table]] = {}
        self.watermark: datetime | None = None
        self.signal: ModelUsed | None = None
        self.regime: ModelUsed | None = None
        self.feature_view = ""
        self.feature_version = ""
        self.warnings: list[str] = []
        self.score_calls = 0

    def provenance(self) -> Provenance:
        return Provenance(
            self.watermark,
            self.signal,
            self.regime,
            self.feature_view,
            self.feature_version,
            tuple(self.warnings),
        )

    def _options(self) -> dict[str, object]:
        settings = self._mesh.settings
        return {"token": settings.token, "timeout": settings.default_timeout_s}

    # -- bars ---------------------------------------------------------------------------------

    def _bars_once(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> asyncio.Task[pa.Table]:
        """One read per distinct request, shared by the bar and signal sources."""
        key = (tuple(symbols), frequency, start, end)
        if key not in self._bars:
            self._bars[key] = asyncio.ensure_future(self._read_bars(*key))  # type: ignore[arg-type]
        return self._bars[key]

    async def _read_bars(
        self,
        symbols: tuple[str, ...],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        table = await self._mesh.marketdata.get_bars(
            list(symbols), frequency, start, end, timeout=self._timeout_s
        )
        if table.num_rows:
            latest = pc.max(table.column("ingested_at")).as_py()
            if self.watermark is None or latest > self.watermark:
                self.watermark = latest
        return table

    async def bars(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        return await asyncio.shield(self._bars_once(symbols, frequency, start, end))

    # -- signals ------------------------------------------------------------------------------

    async def scores(
        self,
        model: str,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        bars = await asyncio.shield(self._bars_once(symbols, frequency, start, end))
        wanted = _rule_symbols(self._config, RuleSource.SIGNAL)
        rows = bars.select(["symbol", "time"])
        rows = rows.filter(pc.is_in(rows.column("symbol"), pa.array(wanted, pa.string())))
        if rows.num_rows == 0:
            return SCORE_SCHEMA.empty_table()
        client = ScoringClient(self._mesh.channel("signal"), **self._options())
        ref = ModelRef.parse(model, "signal_model")
        parts: list[pa.Table] = []
        for offset in range(0, rows.num_rows, self._max_score_rows):
            chunk = rows.slice(offset, self._max_score_rows)
            used, scored = await client.score_rows(ref, chunk, timeout=self._timeout_s)
            self.score_calls += 1
            if self.signal is None:
                self.signal = used
                ref = ModelRef(used.name, version=used.version)
                await self._check_training_window(client, used)
            parts.append(scored.select(["symbol", "time", SIGNAL_COLUMN]))
        return pa.concat_tables(parts)

    async def _check_training_window(self, client: ScoringClient, used: ModelUsed) -> None:
        """Warn when the model was trained on bars inside the backtest's range: its scores
        there are in sample, and so are the KPIs that trade on them."""
        token = ""
        try:
            while True:
                page = await client.list_models(used.name, 1_000, token, timeout=self._timeout_s)
                for info in page.models:
                    if info.version == used.version:
                        self._warn_overlap(used, info.training_window)
                        return
                token = page.next_page_token
                if not token:
                    return
        except QuantmeshError as exc:
            log.warning("no training window for %s/%s: %s", used.name, used.version, exc)

    def _warn_overlap(self, used: ModelUsed, window: TimeRange) -> None:
        trained_from = optional_from_timestamp(window, "start")
        trained_to = optional_from_timestamp(window, "end")
        start, end = self._config.start, self._config.end
        if trained_to is None and trained_from is None:
            return
        after_start = trained_to is None or start is None or start <= trained_to
        before_end = trained_from is None or end is None or trained_from < end
        if after_start and before_end:
            first, last = _day(trained_from, "the first"), _day(trained_to, "the last")
            self.warnings.append(
                f"signal model {used.name} version {used.version} was trained on bars from "
                f"{first} to {last}, inside the backtest's range: results there are in "
                "sample; start the backtest after its training window"
            )

    # -- regimes ------------------------------------------------------------------------------

    async def regimes(
        self,
        model: str,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        wanted = _rule_symbols(self._config, RuleSource.REGIME)
        client = RegimeHistoryClient(self._mesh.channel("regime"), **self._options())
        used, table = await client.history_with_model(
            wanted, start, end, ModelRef.parse(model, "regime_model"), timeout=self._timeout_s
        )
        self.regime = used
        return table.select(REGIME_COLUMNS)

    # -- features -----------------------------------------------------------------------------

    async def features(
        self,
        view: str,
        version: str | None,
        names: Sequence[str],
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
    ) -> pa.Table:
        found, table = await self._mesh.marketdata.get_features(
            view, version, symbols, start, end, features=list(names), timeout=self._timeout_s
        )
        self.feature_view, self.feature_version = found.name, found.version
        return table


class MeshSources:
    """The backtest service's `SourceProvider` over the typed clients; the channels open on
    first use. Symbol lists are cached for `symbols_ttl_s` while every asked symbol is in
    them (a missing one is always asked again)."""

    def __init__(
        self,
        runtime: RuntimeSettings,
        peers: Peers,
        *,
        max_score_rows: int = 100_000,
        timeout_s: float = 300.0,
        symbols_ttl_s: float = 10.0,
    ) -> None:
        self._runtime = runtime
        self._peers = peers
        self._mesh: MeshClient | None = None
        self.max_score_rows = max_score_rows
        self.timeout_s = timeout_s
        self.symbols_ttl_s = symbols_ttl_s
        self._known: dict[Frequency, tuple[float, frozenset[str]]] = {}

    @property
    def mesh(self) -> MeshClient:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        return self._mesh

    def for_run(self, config: StrategyConfig) -> RunSources:
        run = MeshRun(
            self.mesh, config, max_score_rows=self.max_score_rows, timeout_s=self.timeout_s
        )
        return RunSources(Sources(run, run, run, run), run.provenance)

    async def missing_symbols(self, symbols: Sequence[str], frequency: Frequency) -> set[str]:
        cached = self._known.get(frequency)
        if cached is not None and time.monotonic() - cached[0] < self.symbols_ttl_s:
            missing = set(symbols) - cached[1]
            if not missing:
                return missing
        infos = await self.mesh.marketdata.all_symbols(frequency)
        known = frozenset(info.symbol for info in infos)
        self._known[frequency] = (time.monotonic(), known)
        return set(symbols) - known

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()
