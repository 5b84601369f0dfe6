"""The forecast service's ReturnsSource: a backtest's per-bar returns, from the backtest service."""

from __future__ import annotations

from services.clients.mesh import MeshClient
from services.forecast.domain.returns import ReturnSeries
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings


class BacktestReturns:
    """Reads `StreamEquity` of a finished backtest; the channel opens on first use."""

    def __init__(self, runtime: RuntimeSettings, peers: Peers) -> None:
        self._runtime = runtime
        self._peers = peers
        self._mesh: MeshClient | None = None

    async def returns(self, backtest_id: str) -> ReturnSeries:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        equity = await self._mesh.backtest.stream_equity(backtest_id)
        # The first bar has no return (nothing before it); the rest are bar-to-bar returns.
        returns = equity.column("bar_return").to_numpy(zero_copy_only=False)[1:]
        times = equity.column("time").to_pylist()[1:]
        return ReturnSeries(returns, times)

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()
