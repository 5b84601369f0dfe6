"""Bulk-stream messages on the wire without protobuf's copies of their Arrow bytes.

A message that carries bulk data holds it in one `ArrowFrame` field (`ipc_stream`, `row_count`,
`chunk_index`). Built and parsed through protobuf, every chunk's IPC bytes are copied four
times on the sending side (into the message, the nested message, the serialized string) and
twice on the receiving side (parsing, then reading the field into a Python `bytes`). As Arrow
Flight does for its data body, this codec writes such a message's wire bytes directly (the IPC
stream copied once) and reads the IPC stream zero-copy out of the received bytes. The wire
format is exactly protobuf's, so clients in other languages and plain protobuf parsing see no
difference; only the Python codec of the methods that opt in changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa
from google.protobuf.message import DecodeError, Message

_LEN = 2
_VARINT = 0
# ArrowFrame's field numbers (protos/quantmesh/common/v1/arrow.proto).
_IPC_STREAM, _ROW_COUNT, _CHUNK_INDEX = 1, 2, 3

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class FrameChunk(Generic[M]):
    """What a server yields for one chunk: the table for the frame field, its index in the
    stream, and the message's other fields (`header`, None when there are none)."""

    table: pa.Table
    index: int
    header: M | None = None


@dataclass(frozen=True)
class ReceivedFrame(Generic[M]):
    """One received message: its table (sharing the received bytes' memory; None when the
    message has no frame, or an empty one), the frame's row count and index, and the message
    with every field but the frame."""

    table: pa.Table | None
    row_count: int
    chunk_index: int
    header: M


class FrameCodec(Generic[M]):
    """Serializer and deserializer of `message_type`, whose `frame_field` is an ArrowFrame."""

    def __init__(self, message_type: type[M], frame_field: str) -> None:
        field = message_type.DESCRIPTOR.fields_by_name[frame_field]
        if field.message_type is None or field.message_type.name != "ArrowFrame":
            raise TypeError(f"{message_type.__name__}.{frame_field} is not an ArrowFrame")
        self.message_type = message_type
        self._tag = _varint(field.number << 3 | _LEN)
        self._number = field.number

    def serialize(self, item: FrameChunk[M] | M) -> bytes:
        """Wire bytes of a chunk; a plain message (an error path, a test) goes through protobuf."""
        if isinstance(item, Message):
            return item.SerializeToString()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, item.table.schema) as writer:
            writer.write_table(item.table)
        ipc = sink.getvalue()
        frame_head = _key(_IPC_STREAM, _LEN) + _varint(ipc.size)
        frame_tail = _key(_ROW_COUNT, _VARINT) + _varint(item.table.num_rows)
        if item.index:  # proto3 leaves a zero scalar off the wire
            frame_tail += _key(_CHUNK_INDEX, _VARINT) + _varint(item.index)
        frame_size = len(frame_head) + ipc.size + len(frame_tail)
        header = item.header.SerializeToString() if item.header is not None else b""
        return b"".join(
            [header, self._tag, _varint(frame_size), frame_head, memoryview(ipc), frame_tail]
        )

    def deserialize(self, data: bytes) -> ReceivedFrame[M]:
        """The chunk in `data`; raises DecodeError (as protobuf's parser would) on bad bytes."""
        others: list[bytes] = []
        frame: tuple[int, int] | None = None
        position, end = 0, len(data)
        while position < end:
            start = position
            number, kind, position = _read_key(data, position)
            value_start, position = _skip(data, kind, position)
            if number == self._number and kind == _LEN:
                frame = (value_start, position)
            else:
                others.append(data[start:position])
        header = self.message_type.FromString(b"".join(others))
        if frame is None:
            return ReceivedFrame(None, 0, 0, header)
        ipc, row_count, chunk_index = _read_frame(data, *frame)
        if ipc is None or ipc[1] == 0:
            return ReceivedFrame(None, row_count, chunk_index, header)
        with pa.ipc.open_stream(pa.py_buffer(data).slice(*ipc)) as reader:
            table = reader.read_all()
        return ReceivedFrame(table, row_count, chunk_index, header)


def _read_frame(data: bytes, position: int, end: int) -> tuple[tuple[int, int] | None, int, int]:
    """(offset, length) of the ipc_stream, row_count and chunk_index of an ArrowFrame."""
    ipc: tuple[int, int] | None = None
    row_count = chunk_index = 0
    while position < end:
        number, kind, position = _read_key(data, position)
        if number == _IPC_STREAM and kind == _LEN:
            value_start, position = _skip(data, kind, position)
            ipc = (value_start, position - value_start)
        elif number in (_ROW_COUNT, _CHUNK_INDEX) and kind == _VARINT:
            value, position = _read_varint(data, position)
            if number == _ROW_COUNT:
                row_count = value
            else:
                chunk_index = value
        else:
            _, position = _skip(data, kind, position)
    if position != end:
        raise DecodeError("an ArrowFrame field runs past its message")
    return ipc, row_count, chunk_index


def _key(number: int, kind: int) -> bytes:
    return _varint(number << 3 | kind)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise DecodeError("truncated or overlong varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _read_key(data: bytes, position: int) -> tuple[int, int, int]:
    key, position = _read_varint(data, position)
    if key >> 3 == 0:
        raise DecodeError("field number 0")
    return key >> 3, key & 7, position


def _skip(data: bytes, kind: int, position: int) -> tuple[int, int]:
    """(start of the value, position after it) of a field of wire type `kind`."""
    if kind == _VARINT:
        return position, _read_varint(data, position)[1]
    if kind == _LEN:
        length, start = _read_varint(data, position)
        after = start + length
    elif kind == 1:  # I64
        start, after = position, position + 8
    elif kind == 5:  # I32
        start, after = position, position + 4
    else:
        raise DecodeError(f"unsupported wire type {kind}")
    if after > len(data):
        raise DecodeError("a field runs past the end of the message")
    return start, after
