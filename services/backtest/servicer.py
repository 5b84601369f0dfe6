"""BacktestService over gRPC: decode the request, call the domain, encode the reply."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator

import pyarrow as pa
from grpc import aio
from quantmesh.backtest.v1 import backtest_pb2 as pb
from quantmesh.backtest.v1 import backtest_pb2_grpc
from quantmesh.common.v1 import arrow_pb2

from backtest.config import StrategyConfig
from services.backtest import codec
from services.backtest.domain.records import Provenance, backtest_name
from services.backtest.domain.service import Backtests
from services.runtime import telemetry
from services.runtime.arrow_frames import encode_table, split_table
from services.runtime.errors import Internal, InvalidArgument, QuantmeshError
from services.runtime.operations.manager import OperationManager, Progress

OPERATION_KIND = "backtest"
MAX_REQUEST_ID = 200


def _frames(table: pa.Table) -> Iterator[arrow_pb2.ArrowFrame]:
    for index, chunk in enumerate(split_table(table)):
        yield arrow_pb2.ArrowFrame(
            ipc_stream=encode_table(chunk), row_count=chunk.num_rows, chunk_index=index
        )


def _annotate(provenance: Provenance) -> None:
    """The model and feature versions a run read, on the current span."""
    signal, regime = provenance.signal_model, provenance.regime_model
    telemetry.annotate(
        {
            "quantmesh.backtest.signal_model": signal.ref if signal else None,
            "quantmesh.backtest.regime_model": regime.ref if regime else None,
            telemetry.FEATURE_VIEW: provenance.feature_view or None,
            telemetry.FEATURE_VERSION: provenance.feature_version or None,
        }
    )


class BacktestServicer(backtest_pb2_grpc.BacktestServiceServicer):
    def __init__(self, domain: Backtests, operations: OperationManager) -> None:
        self._domain = domain
        self._operations = operations

    async def _prepare(self, request: pb.RunBacktestRequest) -> StrategyConfig:
        if not request.HasField("config"):
            raise InvalidArgument.for_field("config", "is required")
        if len(request.request_id) > MAX_REQUEST_ID:
            raise InvalidArgument.for_field(
                "request_id", f"must be at most {MAX_REQUEST_ID} characters"
            )
        config = codec.config_from_pb(request.config)
        try:
            return await self._domain.prepare(config)
        except QuantmeshError as exc:
            raise codec.request_error(exc, config) from None

    async def RunBacktest(
        self, request: pb.RunBacktestRequest, context: aio.ServicerContext
    ) -> pb.RunBacktestResponse:
        # Bad input fails the call, not the operation.
        config = await self._prepare(request)
        assigned: list[str] = []
        ready = asyncio.Event()

        async def job(progress: Progress) -> pb.Backtest:
            await ready.wait()
            if not assigned:
                raise Internal("the backtest record was not created")
            cancel = threading.Event()
            record = await self._domain.run(assigned[0], progress.update, cancel)
            _annotate(record.provenance)  # on the operation's span
            return codec.backtest_to_pb(record)

        fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
        try:
            operation = await self._operations.submit(
                OPERATION_KIND, job, request.request_id, fingerprint
            )
            if not self._domain.exists(operation.id):
                self._domain.create(
                    config,
                    backtest_id=operation.id,
                    operation=operation.name,
                    request_id=request.request_id,
                )
            assigned.append(operation.id)
        finally:
            ready.set()
        telemetry.annotate(
            {
                "quantmesh.backtest.id": operation.id,
                "quantmesh.backtest.symbols": len(config.universe),
            }
        )
        return pb.RunBacktestResponse(
            operation=operation.name, backtest=backtest_name(operation.id)
        )

    async def GetBacktest(
        self, request: pb.GetBacktestRequest, context: aio.ServicerContext
    ) -> pb.GetBacktestResponse:
        record = self._domain.get(request.name)
        return pb.GetBacktestResponse(backtest=codec.backtest_to_pb(record))

    async def ListBacktests(
        self, request: pb.ListBacktestsRequest, context: aio.ServicerContext
    ) -> pb.ListBacktestsResponse:
        records, token = self._domain.list(
            request.strategy_name,
            codec.state_from_pb(request.state),
            request.page_size,
            request.page_token,
        )
        return pb.ListBacktestsResponse(
            backtests=[codec.backtest_to_pb(r) for r in records], next_page_token=token
        )

    async def GetKpis(
        self, request: pb.GetKpisRequest, context: aio.ServicerContext
    ) -> pb.GetKpisResponse:
        record = self._domain.finished(request.name)
        assert record.kpis is not None
        return pb.GetKpisResponse(name=record.name, kpis=codec.kpis_to_pb(record.kpis))

    async def StreamEquity(
        self, request: pb.StreamEquityRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.StreamEquityResponse]:
        table = await self._domain.equity(request.name)
        for frame in _frames(table):
            yield pb.StreamEquityResponse(frame=frame)

    async def GetTrades(
        self, request: pb.GetTradesRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.GetTradesResponse]:
        table = await self._domain.trades(request.name)
        for frame in _frames(table):
            yield pb.GetTradesResponse(frame=frame)
