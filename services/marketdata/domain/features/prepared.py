"""DuckDB statements prepared once per cursor over a registered Arrow source, for small,
frequent queries whose planning costs more than running them (the live feature reads)."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

import duckdb
import pyarrow as pa


class _Rows:
    """An Arrow stream of whichever table it holds at the time it is read.

    Registered once on a cursor, it is the source of statements prepared over it: DuckDB reads a
    registered object afresh at every execution, so each EXECUTE reads the rows put in just
    before it, through a plan bound once.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


class PreparedQueries:
    """Queries prepared once per cursor over a registered `_Rows`, for the small, frequent live
    reads: a plain query is parsed, bound (twice: the relation API describes it first),
    optimized and planned at every call, which for the window query costs more than running it
    on a few thousand rows. A prepared statement over a catalog table is bound again at every
    EXECUTE, but one over a registered object is not (measured: binding ~1 µs).

    Per cursor (prepared statements and registrations belong to its connection; a cursor is used
    by one thread at a time), at most `per_cursor` statements, least recently used dropped first.
    The rows are let go after each call. At exit every statement is deallocated and every source
    unregistered: a registered Python object left behind keeps its connection alive past the
    interpreter's end.
    """

    def __init__(self, per_cursor: int = 16) -> None:
        self.per_cursor = per_cursor
        self._cursors: weakref.WeakKeyDictionary[
            duckdb.DuckDBPyConnection, OrderedDict[str, _Rows]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        atexit.register(self.close)

    def run(
        self,
        cursor: duckdb.DuckDBPyConnection,
        query: Callable[[str], str],
        table: pa.Table,
        kind: str,
    ) -> pa.Table:
        """`query(source)` over `table` (its rows under the name `source`), prepared on first use
        for this query text and this table schema."""
        text = query("__source__") + "\n" + str(table.schema)
        name = f"{kind}_{hashlib.sha256(text.encode()).hexdigest()[:24]}"
        with self._lock:
            statements = self._cursors.get(cursor)
            if statements is None:
                statements = self._cursors[cursor] = OrderedDict()
        rows = statements.get(name)
        if rows is None:
            rows = _Rows(table.slice(0, 0))
            cursor.register(name, rows)
            try:
                cursor.execute(f"PREPARE {name} AS {query(name)}")
            except BaseException:
                cursor.unregister(name)
                raise
            statements[name] = rows
            while len(statements) > self.per_cursor:
                _drop(cursor, *statements.popitem(last=False))
        statements.move_to_end(name)
        rows.table = table
        try:
            result = cursor.sql(f"EXECUTE {name}")
            assert result is not None  # EXECUTE of a query returns its rows
            return result.to_arrow_table()
        finally:
            rows.table = table.slice(0, 0)

    def close(self) -> None:
        """Deallocate every statement and unregister every source (of cursors still open)."""
        with self._lock:
            cursors = list(self._cursors.items())
            self._cursors.clear()
        for cursor, statements in cursors:
            for name, rows in statements.items():
                _drop(cursor, name, rows)


def _drop(cursor: duckdb.DuckDBPyConnection, name: str, rows: _Rows) -> None:
    """Deallocate the statement `name` and unregister its source (a closed cursor has neither)."""
    with contextlib.suppress(duckdb.Error):
        cursor.execute(f"DEALLOCATE {name}")
    with contextlib.suppress(duckdb.Error):
        cursor.unregister(name)
