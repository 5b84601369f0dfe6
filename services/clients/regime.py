"""Typed async client of the regime service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import grpc
import pyarrow as pa
from quantmesh.regime.v1 import regime_pb2 as pb
from quantmesh.regime.v1 import regime_pb2_grpc

from services.clients.base import ServiceClient
from services.regime.codec import REGIME_FROM_PB
from services.regime.domain.regimes import Regime
from services.regime.domain.service import DEFAULT_MODEL, HISTORY_SCHEMA
from services.runtime.arrow_frames import concat_tables, decode_table
from services.runtime.model_refs import ModelRef, ref_to_pb
from services.runtime.time_convert import (
    from_timestamp,
    optional_from_timestamp,
    to_time_range,
    to_timestamp,
)

#: What a request means when it names no model: the default model's champion.
DEFAULT_REF = f"{DEFAULT_MODEL}@champion"


def _regime(value: int) -> Regime | None:
    return REGIME_FROM_PB.get(value)  # type: ignore[call-overload, no-any-return]


def _probabilities(items: Sequence[pb.RegimeProbability]) -> dict[Regime, float]:
    return {r: p.probability for p in items if (r := _regime(p.regime)) is not None}


@dataclass(frozen=True)
class RegimeModelInfo:
    name: str
    version: int
    symbols: tuple[str, ...]
    train_start: datetime | None
    train_end: datetime | None
    feature_version: str
    aliases: tuple[str, ...]
    median_duration_sessions: float
    shares: dict[str, float]
    switch_probability: float
    warmup_bars: int

    @classmethod
    def from_pb(cls, m: pb.RegimeModel) -> RegimeModelInfo:
        return cls(
            m.name,
            m.version,
            tuple(m.symbols),
            optional_from_timestamp(m.training_window, "start"),
            optional_from_timestamp(m.training_window, "end"),
            m.feature_version,
            tuple(m.aliases),
            m.median_duration_sessions,
            dict(m.regime_shares),
            m.switch_probability,
            m.warmup_bars,
        )


@dataclass(frozen=True)
class RegimeAnswer:
    symbol: str
    bar_time: datetime
    regime: Regime
    probabilities: dict[Regime, float]
    model_name: str
    model_version: int
    feature_version: str
    cached: bool


@dataclass(frozen=True)
class RegimeChangeInfo:
    symbol: str
    bar_time: datetime
    regime: Regime
    previous: Regime | None
    probabilities: dict[Regime, float]


@dataclass(frozen=True)
class RegimeUpdate:
    """One WatchRegime message: changes (or the opening snapshot), or a heartbeat."""

    sequence: int
    cursor: int
    changes: tuple[RegimeChangeInfo, ...]
    snapshot: bool
    heartbeat: bool
    model_version: int


@dataclass(frozen=True)
class CacheReport:
    hits: int
    memory_hits: int
    misses: int
    invalidated: int
    errors: int
    writes: int
    hit_rate: float
    hit_p50_ms: float
    hit_p99_ms: float
    miss_p50_ms: float
    miss_p99_ms: float
    state: str  # HEALTHY, DEGRADED, DISABLED
    degraded_since: datetime | None
    last_error: str
    ingest_watermark: datetime | None


class RegimeClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = regime_pb2_grpc.RegimeServiceStub(channel)

    async def fit(
        self,
        symbols: Sequence[str],
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        name: str = "",
        alias: str = "",
        switch_probability: float = 0.0,
        timeout: float | None = 300.0,
    ) -> tuple[RegimeModelInfo, bool]:
        request = pb.FitRegimeModelRequest(
            name=name,
            symbols=list(symbols),
            training_window=to_time_range(start, end),
            alias=alias,
            switch_probability=switch_probability,
        )
        response = await self._unary(self._stub.FitRegimeModel, request, timeout)
        return RegimeModelInfo.from_pb(response.model), response.created

    async def list_models(
        self,
        name: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> tuple[list[RegimeModelInfo], str]:
        request = pb.ListRegimeModelsRequest(name=name, page_size=page_size, page_token=page_token)
        response = await self._unary(self._stub.ListRegimeModels, request, timeout)
        return [RegimeModelInfo.from_pb(m) for m in response.models], response.next_page_token

    async def classify(
        self,
        symbol: str,
        at: datetime | None = None,
        model: ModelRef | str = DEFAULT_REF,
        *,
        timeout: float | None = None,
    ) -> RegimeAnswer:
        request = pb.ClassifyRegimeRequest(symbol=symbol, model=ref_to_pb(model))
        if at is not None:
            request.time.CopyFrom(to_timestamp(at))
        r = await self._unary(self._stub.ClassifyRegime, request, timeout)
        regime = _regime(r.regime)
        assert regime is not None
        return RegimeAnswer(
            r.symbol,
            from_timestamp(r.bar_time),
            regime,
            _probabilities(r.probabilities),
            r.model_name,
            r.model_version,
            r.feature_version,
            r.cached,
        )

    async def history(
        self,
        symbols: Sequence[str],
        start: datetime | None = None,
        end: datetime | None = None,
        model: ModelRef | str = DEFAULT_REF,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        """Regimes per symbol and bar (see HISTORY_SCHEMA), symbol then time order."""
        request = pb.GetRegimeHistoryRequest(
            symbols=list(symbols), time_range=to_time_range(start, end), model=ref_to_pb(model)
        )
        chunks = [
            decode_table(message.frame.ipc_stream)
            async for message in self._stream(self._stub.GetRegimeHistory, request, timeout)
        ]
        return concat_tables(chunks, HISTORY_SCHEMA)

    async def watch(
        self,
        symbols: Sequence[str],
        model: ModelRef | str = DEFAULT_REF,
        resume_after: int | None = None,
        heartbeat_s: float = 5.0,
        *,
        timeout: float | None = 0,
    ) -> AsyncIterator[RegimeUpdate]:
        """Regime changes as bars are ingested (no deadline by default). Without
        `resume_after` the first message is a snapshot of the current regimes; pass the last
        `cursor` seen to continue after a disconnect without gap or duplicate."""
        request = pb.WatchRegimeRequest(
            symbols=list(symbols),
            model=ref_to_pb(model),
            heartbeat_interval_ms=round(heartbeat_s * 1000),
        )
        if resume_after is not None:
            request.resume_after = resume_after
        async for message in self._stream(self._stub.WatchRegime, request, timeout):
            if not message.HasField("changes"):
                yield RegimeUpdate(message.sequence, message.cursor, (), False, True, 0)
                continue
            batch = message.changes
            changes = []
            for c in batch.changes:
                regime = _regime(c.regime)
                assert regime is not None
                changes.append(
                    RegimeChangeInfo(
                        c.symbol,
                        from_timestamp(c.bar_time),
                        regime,
                        _regime(c.previous),
                        _probabilities(c.probabilities),
                    )
                )
            yield RegimeUpdate(
                message.sequence,
                message.cursor,
                tuple(changes),
                batch.snapshot,
                False,
                batch.model_version,
            )

    async def cache_stats(self, *, timeout: float | None = None) -> CacheReport:
        r = await self._unary(self._stub.GetCacheStats, pb.GetCacheStatsRequest(), timeout)
        return CacheReport(
            r.hits,
            r.memory_hits,
            r.misses,
            r.invalidated,
            r.errors,
            r.writes,
            r.hit_rate,
            r.hit_p50_ms,
            r.hit_p99_ms,
            r.miss_p50_ms,
            r.miss_p99_ms,
            pb.CacheState.Name(r.state).removeprefix("CACHE_STATE_"),
            optional_from_timestamp(r, "degraded_since"),
            r.last_error,
            optional_from_timestamp(r, "ingest_watermark"),
        )
