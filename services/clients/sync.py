"""A small synchronous facade over the async clients, for scripts and notebooks.

    with SyncMesh() as mesh:
        bars = mesh.marketdata.get_bars(["AAPL"])

Calls run on an event loop in a background thread; async generators are collected into lists.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from services.clients.mesh import MeshClient
from services.runtime.settings import RuntimeSettings


class _SyncProxy:
    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **k: asyncio.run_coroutine_threadsafe(
                attr(*a, **k), self._loop
            ).result()
        if inspect.isasyncgenfunction(attr):

            async def collect(*a: Any, **k: Any) -> list[Any]:
                return [item async for item in attr(*a, **k)]

            return lambda *a, **k: asyncio.run_coroutine_threadsafe(
                collect(*a, **k), self._loop
            ).result()
        return attr


class SyncMesh:
    def __init__(self, settings: RuntimeSettings | None = None, address: str | None = None):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._mesh = self._run(self._make(settings, address))

    async def _make(self, settings: RuntimeSettings | None, address: str | None) -> MeshClient:
        return MeshClient(settings, address)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        # Look the attribute up without evaluating it: properties open channels, which must
        # happen on the loop's thread.
        if callable(inspect.getattr_static(self._mesh, name)):
            factory: Callable[..., Any] = getattr(self._mesh, name)
            return lambda *a, **k: _SyncProxy(
                self._run(self._call_in_loop(factory, a, k)), self._loop
            )
        return _SyncProxy(self._run(self._get_in_loop(name)), self._loop)

    async def _call_in_loop(self, factory: Callable[..., Any], a: Any, k: Any) -> Any:
        return factory(*a, **k)

    async def _get_in_loop(self, name: str) -> Any:
        return getattr(self._mesh, name)

    def close(self) -> None:
        self._run(self._mesh.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> SyncMesh:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
