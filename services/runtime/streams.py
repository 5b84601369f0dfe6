"""Conventions shared by server streams: heartbeat intervals as requests state them."""

from __future__ import annotations

from services.runtime.errors import InvalidArgument

DEFAULT_HEARTBEAT_MS = 5_000
MIN_HEARTBEAT_MS = 100


def heartbeat_seconds(interval_ms: int, field: str = "heartbeat_interval_ms") -> float:
    """A request's heartbeat interval in seconds: 0 means the default, below 100 ms is refused."""
    if interval_ms == 0:
        return DEFAULT_HEARTBEAT_MS / 1000
    if interval_ms < MIN_HEARTBEAT_MS:
        raise InvalidArgument.for_field(
            field, f"must be 0 (default) or at least {MIN_HEARTBEAT_MS}"
        )
    return interval_ms / 1000
