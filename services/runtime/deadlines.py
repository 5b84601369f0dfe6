"""Deadline propagation: a call made while serving a call gets at most the time left.

The server's DeadlineInterceptor records the incoming call's deadline in a context variable;
asyncio tasks started while serving copy it, and the typed clients cap every outgoing timeout
by what remains, so no downstream work outlives the request that asked for it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from services.runtime.errors import DeadlineExceeded

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "quantmesh_deadline", default=None
)


@contextmanager
def deadline_scope(seconds_left: float | None) -> Iterator[None]:
    """Within the block, outgoing calls get at most `seconds_left` (None: no limit)."""
    if seconds_left is None:
        yield
        return
    token = _deadline.set(time.monotonic() + seconds_left)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left of the call being served, or None outside a call with a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def cap_timeout(timeout: float | None) -> float | None:
    """`timeout` shortened to the time left of the call being served."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise DeadlineExceeded("the calling request's deadline has already passed")
    return left if timeout is None else min(timeout, left)
