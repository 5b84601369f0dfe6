import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Frequency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FREQUENCY_UNSPECIFIED: _ClassVar[Frequency]
    FREQUENCY_DAILY: _ClassVar[Frequency]
    FREQUENCY_MINUTE: _ClassVar[Frequency]
FREQUENCY_UNSPECIFIED: Frequency
FREQUENCY_DAILY: Frequency
FREQUENCY_MINUTE: Frequency

class Bar(_message.Message):
    __slots__ = ("symbol", "time", "frequency", "open", "high", "low", "close", "volume", "adj_close")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    ADJ_CLOSE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    time: _timestamp_pb2.Timestamp
    frequency: Frequency
    open: float
    high: float
    low: float
    close: float
    volume: float
    adj_close: float
    def __init__(self, symbol: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frequency: _Optional[_Union[Frequency, str]] = ..., open: _Optional[float] = ..., high: _Optional[float] = ..., low: _Optional[float] = ..., close: _Optional[float] = ..., volume: _Optional[float] = ..., adj_close: _Optional[float] = ...) -> None: ...
