from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ArrowFrame(_message.Message):
    __slots__ = ("ipc_stream", "row_count", "chunk_index")
    IPC_STREAM_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    ipc_stream: bytes
    row_count: int
    chunk_index: int
    def __init__(self, ipc_stream: _Optional[bytes] = ..., row_count: _Optional[int] = ..., chunk_index: _Optional[int] = ...) -> None: ...
