"""Conversions between protobuf Timestamps, aware datetimes and Arrow microsecond times (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from google.protobuf.timestamp_pb2 import Timestamp
from quantmesh.common.v1.time_range_pb2 import TimeRange


def to_timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(ensure_utc(value))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def optional_from_timestamp(message: object, field: str) -> datetime | None:
    """The field's datetime when set on `message`, else None (proto3 presence of messages)."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    return from_timestamp(getattr(message, field))


def ensure_utc(value: datetime) -> datetime:
    """Naive datetimes are read as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...
def naive_utc(value: datetime | None) -> datetime | None:
    """UTC wall time without tzinfo, as DuckDB TIMESTAMP columns hold it (None stays None)."""
    return None if value is None else ensure_utc(value).replace(tzinfo=None)


@overload
def aware_utc(value: datetime) -> datetime: ...
@overload
def aware_utc(value: None) -> None: ...
def aware_utc(value: datetime | None) -> datetime | None:
    """`ensure_utc` that lets None through: a DuckDB TIMESTAMP read back as aware UTC."""
    return None if value is None else ensure_utc(value)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_time_range(start: datetime | None, end: datetime | None) -> TimeRange:
    """A TimeRange message; unset bounds stay unset (open)."""
    message = TimeRange()
    if start is not None:
        message.start.CopyFrom(to_timestamp(start))
    if end is not None:
        message.end.CopyFrom(to_timestamp(end))
    return message
