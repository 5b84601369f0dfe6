"""What every typed client shares: per-call deadlines, auth metadata, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc import aio

from services.runtime.deadlines import cap_timeout
from services.runtime.frame_wire import FrameCodec
from services.runtime.status_codes import from_rpc_error

T = TypeVar("T")


class ServiceClient:
    """Base of the typed clients.

    `timeout` (seconds) applies to calls that set none; a call's `timeout=0` means no deadline
    (for subscriptions). Inside a server handler every timeout is capped by the time left of
    the call being served.
    """

    def __init__(self, channel: aio.Channel, *, token: str = "", timeout: float = 30.0) -> None:
        self._channel = channel
        self._token = token
        self.timeout = timeout

    def _framed_stream(
        self, service: str, method: str, request_type: type[Message], codec: FrameCodec[Any]
    ) -> Any:
        """A server-streaming method whose responses `codec` reads zero-copy (see frame_wire):
        the call yields ReceivedFrame objects instead of protobuf messages."""
        return self._channel.unary_stream(
            f"/{service}/{method}",
            request_serializer=request_type.SerializeToString,
            response_deserializer=codec.deserialize,
            _registered_method=True,
        )

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def _options(self, timeout: float | None) -> dict[str, Any]:
        chosen = self.timeout if timeout is None else timeout
        return {"timeout": cap_timeout(chosen or None), "metadata": self._metadata()}

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
        """Iterate a server stream, mapping its failure to a domain error."""
        call = method(request, **self._options(timeout))
        try:
            async for item in call:
                yield item
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()
