"""Arrow tables as chunks of IPC streams, for bulk data in protobuf `bytes` fields.

Every chunk is a complete Arrow IPC stream (schema + record batches), so each decodes alone and
a client in any language reads it with its stream reader. Chunks are bounded by rows and bytes
to stay well under the gRPC message limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

DEFAULT_CHUNK_ROWS = 65_536
# About 1 MB a chunk: the sender serializes one chunk while the receiver takes the previous, and
# per-message costs stay small. Reading the 73k dow30 bars (5 MB) over gRPC between two processes
# with zero-copy decoding (frame_wire) took 19-22 ms with 1 MB chunks against 21-26 ms with
# 320 KB ones and 23-24 ms with one 5 MB message.
DEFAULT_CHUNK_BYTES = 1024 * 1024


def encode_table(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_table(payload: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
        return reader.read_all()


def split_table(
    table: pa.Table, max_rows: int = DEFAULT_CHUNK_ROWS, max_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[pa.Table]:
    """Slices of `table` with at most `max_rows` rows and about `max_bytes` bytes each.

    An empty table yields one empty slice, so the schema still reaches the reader.
    """
    if table.num_rows == 0:
        yield table
        return
    row_bytes = max(1, table.nbytes // table.num_rows)
    step = max(1, min(max_rows, max_bytes // row_bytes))
    for offset in range(0, table.num_rows, step):
        yield table.slice(offset, step)


def concat_tables(tables: Iterable[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    parts = list(tables)
    if not parts:
        if schema is None:
            raise ValueError("no chunks and no schema to build an empty table from")
        return schema.empty_table()
    return pa.concat_tables(parts)
