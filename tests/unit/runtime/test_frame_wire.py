"""Bulk-stream messages written and read without protobuf's copies, on protobuf's wire format."""

from __future__ import annotations

import pyarrow as pa
import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st
from quantmesh.common.v1 import arrow_pb2
from quantmesh.marketdata.v1 import marketdata_pb2 as pb

from services.runtime.arrow_frames import decode_table, encode_table
from services.runtime.frame_wire import FrameChunk, FrameCodec

BARS = FrameCodec(pb.GetBarsResponse, "frame")
FEATURES = FrameCodec(pb.GetFeaturesResponse, "frame")


def _table(rows: int) -> pa.Table:
    return pa.table(
        {"symbol": ["AAPL"] * rows, "close": [float(i) + 0.25 for i in range(rows)]},
    )


@given(rows=st.integers(0, 3_000), index=st.integers(0, 2**31 - 1))
def test_written_bytes_are_what_protobuf_writes(rows: int, index: int) -> None:
    table = _table(rows)
    expected = pb.GetBarsResponse(
        frame=arrow_pb2.ArrowFrame(
            ipc_stream=encode_table(table), row_count=rows, chunk_index=index
        )
    )
    written = BARS.serialize(FrameChunk(table, index))
    assert pb.GetBarsResponse.FromString(written) == expected
    assert decode_table(pb.GetBarsResponse.FromString(written).frame.ipc_stream).equals(table)


@given(rows=st.integers(0, 3_000), index=st.integers(0, 2**31 - 1))
def test_protobuf_written_messages_read_back_zero_copy(rows: int, index: int) -> None:
    table = _table(rows)
    data = pb.GetBarsResponse(
        frame=arrow_pb2.ArrowFrame(
            ipc_stream=encode_table(table), row_count=rows, chunk_index=index
        )
    ).SerializeToString()
    received = BARS.deserialize(data)
    assert received.table is not None and received.table.equals(table)
    assert (received.row_count, received.chunk_index) == (rows, index)
    if rows:  # the columns point into the received bytes: nothing was copied
        address = received.table.column("close").chunks[0].buffers()[1].address
        start = pa.py_buffer(data).address
        assert start <= address < start + len(data)


def test_the_other_fields_travel_in_the_header() -> None:
    view = pb.FeatureView(name="default", version="v3")
    written = FEATURES.serialize(FrameChunk(_table(5), 2, pb.GetFeaturesResponse(view=view)))
    received = FEATURES.deserialize(written)
    assert received.header.view == view
    assert not received.header.HasField("frame")
    assert received.table is not None and received.table.num_rows == 5
    assert pb.GetFeaturesResponse.FromString(written).view == view


def test_a_message_without_a_frame_has_no_table() -> None:
    only_view = pb.GetFeaturesResponse(view=pb.FeatureView(name="default", version="v1"))
    received = FEATURES.deserialize(FEATURES.serialize(only_view))
    assert received.table is None
    assert received.header == only_view
    assert BARS.deserialize(b"").table is None


def test_plain_messages_are_written_by_protobuf() -> None:
    message = pb.GetBarsResponse(frame=arrow_pb2.ArrowFrame(row_count=3))
    assert BARS.serialize(message) == message.SerializeToString()


def test_unknown_fields_in_the_frame_are_skipped() -> None:
    table = _table(4)
    frame = arrow_pb2.ArrowFrame(ipc_stream=encode_table(table), row_count=4, chunk_index=1)
    # Field 9 (varint) and field 10 (fixed64): what a newer sender might add.
    extra = bytes([9 << 3 | 0, 150, 1, 10 << 3 | 1]) + b"\x00" * 8
    inner = frame.SerializeToString() + extra
    data = bytes([1 << 3 | 2]) + _varint(len(inner)) + inner
    received = BARS.deserialize(data)
    assert received.table is not None and received.table.equals(table)
    assert received.chunk_index == 1


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x80",  # a length that never ends
        b"\x0a\x05\x0a\x09abc",  # the frame's ipc_stream runs past the frame
        b"\x0a\x10\x0a\x02ab",  # the frame runs past the message
        b"\x0b\x00",  # wire type 3 (groups) is not used by these messages
    ],
)
def test_malformed_bytes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        BARS.deserialize(data)


def test_only_arrow_frame_fields_are_accepted() -> None:
    with pytest.raises(TypeError, match="not an ArrowFrame"):
        FrameCodec(pb.GetFeaturesResponse, "view")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
