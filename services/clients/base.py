"""What every typed client shares: per-call deadlines, auth metadata, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio

from services.runtime.status_codes import from_rpc_error

T = TypeVar("T")


class ServiceClient:
    """Base of the typed clients. `timeout` (seconds) applies to calls that set none."""

    def __init__(self, channel: aio.Channel, *, token: str = "", timeout: float = 30.0) -> None:
        self._channel = channel
        self._token = token
        self.timeout = timeout

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def _options(self, timeout: float | None) -> dict[str, Any]:
        return {
            "timeout": self.timeout if timeout is None else timeout,
            "metadata": self._metadata(),
        }

    async def _unary(
        self, method: Callable[..., Awaitable[T]], request: Any, timeout: float | None
    ) -> T:
        try:
            return await method(request, **self._options(timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    async def _stream(
        self, method: Callable[..., Any], request: Any, timeout: float | None
    ) -> AsyncIterator[Any]:
        """Iterate a server stream; `timeout` None means the client default, 0 means none."""
        options = self._options(timeout)
        if options["timeout"] == 0:
            options["timeout"] = None
        call = method(request, **options)
        try:
            async for item in call:
                yield item
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()
