"""Arrow tables as self-contained IPC chunks."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.arrow_frames import concat_tables, decode_table, encode_table, split_table


@given(rows=st.integers(0, 500), max_rows=st.integers(1, 64))
def test_chunks_reassemble_to_the_table(rows: int, max_rows: int) -> None:
    table = pa.table({"x": list(range(rows)), "s": [str(i) for i in range(rows)]})
    chunks = [decode_table(encode_table(c)) for c in split_table(table, max_rows=max_rows)]
    assert all(c.num_rows <= max_rows for c in chunks)
    assert concat_tables(chunks).equals(table)


def test_chunks_are_bounded_by_bytes_too() -> None:
    table = pa.table({"x": [1.0] * 10_000})
    chunks = list(split_table(table, max_rows=10_000, max_bytes=8_000))
    assert max(c.nbytes for c in chunks) <= 8_000
    assert sum(c.num_rows for c in chunks) == 10_000


def test_an_empty_table_still_carries_its_schema() -> None:
    table = pa.table({"x": pa.array([], pa.int64())})
    [chunk] = list(split_table(table))
    assert decode_table(encode_table(chunk)).schema == table.schema


def test_no_chunks_need_a_schema() -> None:
    with pytest.raises(ValueError, match="schema"):
        concat_tables([])
    assert concat_tables([], pa.schema([("x", pa.int64())])).num_rows == 0
