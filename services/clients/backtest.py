"""Typed async client of the backtest service: `StrategyConfig` in, `BacktestRecord`, `Kpis` and
Arrow tables out."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pyarrow as pa
from quantmesh.backtest.v1 import backtest_pb2 as pb
from quantmesh.backtest.v1 import backtest_pb2_grpc

from backtest.config import StrategyConfig
from backtest.kpis import Kpis
from services.backtest import codec
from services.backtest.domain.records import BacktestRecord, BacktestState
from services.backtest.domain.store import EQUITY_SCHEMA, TRADES_SCHEMA
from services.clients.base import ServiceClient
from services.clients.operations import OperationsClient
from services.runtime.arrow_frames import concat_tables, decode_table
from services.runtime.errors import ERROR_CLASSES, Internal, QuantmeshError
from services.runtime.operations.model import OperationRecord, OperationState

_ERROR_BY_CODE: dict[str, type[QuantmeshError]] = {cls.code: cls for cls in ERROR_CLASSES}


@dataclass(frozen=True)
class SubmittedBacktest:
    """A started (or deduplicated) run: its operation and its backtest name."""

    operation: str
    name: str


def backtest_of(record: OperationRecord) -> BacktestRecord:
    """The Backtest a finished RunBacktest operation holds; its error raised when it failed
    (the same exception class as the status code it failed with)."""
    if record.state is OperationState.SUCCEEDED and record.result is not None:
        message = pb.Backtest()
        message.ParseFromString(record.result.value)
        return codec.backtest_from_pb(message)
    if record.failure is not None:
        failure = record.failure
        cls = _ERROR_BY_CODE.get(failure.code, Internal)
        raise cls(
            f"backtest {record.name} {record.state.value.lower()}: {failure.message}",
            reason=failure.reason,
            metadata=failure.metadata,
        )
    raise Internal(f"operation {record.name} ended {record.state.value} without a result")


class BacktestClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = backtest_pb2_grpc.BacktestServiceStub(channel)

    @property
    def operations(self) -> OperationsClient:
        """The operations of the backtest service (served on the same channel)."""
        return OperationsClient(self._channel, token=self._token, timeout=self.timeout)

    async def run(
        self, config: StrategyConfig, request_id: str = "", *, timeout: float | None = None
    ) -> SubmittedBacktest:
        """Start a run; returns at once. A repeated `request_id` returns the same run."""
        request = pb.RunBacktestRequest(config=codec.config_to_pb(config), request_id=request_id)
        response = await self._unary(self._stub.RunBacktest, request, timeout)
        return SubmittedBacktest(response.operation, response.backtest)

    async def wait(
        self, run: SubmittedBacktest | str, *, timeout: float | None = 0
    ) -> BacktestRecord:
        """Wait for a run (or an operation name) to finish (no deadline by default); the
        finished backtest, or its error raised."""
        operation = run.operation if isinstance(run, SubmittedBacktest) else run
        return backtest_of(await self.operations.wait(operation, timeout=timeout))

    async def run_and_wait(
        self, config: StrategyConfig, request_id: str = "", *, timeout: float | None = 0
    ) -> BacktestRecord:
        return await self.wait(await self.run(config, request_id), timeout=timeout)

    async def get(self, name: str, *, timeout: float | None = None) -> BacktestRecord:
        """A backtest by name ("backtests/{id}") or id."""
        response = await self._unary(
            self._stub.GetBacktest, pb.GetBacktestRequest(name=name), timeout
        )
        return codec.backtest_from_pb(response.backtest)

    async def list(
        self,
        strategy_name: str = "",
        state: BacktestState | None = None,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> tuple[list[BacktestRecord], str]:
        """One page of backtests, newest first, and the next page's token ("" at the end)."""
        request = pb.ListBacktestsRequest(
            strategy_name=strategy_name,
            state=codec.state_to_pb(state),  # type: ignore[arg-type]
            page_size=page_size,
            page_token=page_token,
        )
        response = await self._unary(self._stub.ListBacktests, request, timeout)
        return [codec.backtest_from_pb(b) for b in response.backtests], response.next_page_token

    async def kpis(self, name: str, *, timeout: float | None = None) -> Kpis:
        response = await self._unary(self._stub.GetKpis, pb.GetKpisRequest(name=name), timeout)
        return codec.kpis_from_pb(response.kpis)

    async def stream_equity(self, name: str, *, timeout: float | None = None) -> pa.Table:
        """The equity curve (time, equity, cash, gross_exposure, net_exposure, bar_return)."""
        request = pb.StreamEquityRequest(name=name)
        chunks = [
            decode_table(message.frame.ipc_stream)
            async for message in self._stream(self._stub.StreamEquity, request, timeout)
        ]
        return concat_tables(chunks, EQUITY_SCHEMA)

    async def trades(self, name: str, *, timeout: float | None = None) -> pa.Table:
        """Every fill (time, symbol, side, quantity, price, commission, slippage,
        decision_time), in decision order."""
        request = pb.GetTradesRequest(name=name)
        chunks = [
            decode_table(message.frame.ipc_stream)
            async for message in self._stream(self._stub.GetTrades, request, timeout)
        ]
        return concat_tables(chunks, TRADES_SCHEMA)
