"""The Arrow layouts the signal service consumes: feature tables and label tables.

A feature table has `symbol` (string), `time` (timestamp[us, UTC]) and one numeric column per
feature. A label table has `symbol`, `time` and label columns: `fwd_ret_<h>` (forward log return
over h bars) and `direction_<h>` (1 when that return is positive, else 0). Any column named with
a label prefix (`fwd_`, `direction_`, `label_`, `target_`) can never be selected as a feature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.runtime.errors import FieldViolation, InvalidArgument

TIME_TYPE = pa.timestamp("us", tz="UTC")
KEY_COLUMNS = ("symbol", "time")
HORIZONS = (1, 5, 20)
LABEL_NAMES = tuple(f"{kind}_{h}" for kind in ("fwd_ret", "direction") for h in HORIZONS)
#: Column names starting with these are labels (or may become labels), never features; the same
#: reserved prefixes as marketdata's feature store.
RESERVED_PREFIXES = ("fwd_", "direction_", "label_", "target_")
_LABEL_PATTERN = re.compile(r"^(fwd_ret|direction)_(\d+)$")


class LabelKind(StrEnum):
    """What a label measures: the forward log return, or its direction (0/1)."""

    RETURN = "fwd_ret"
    DIRECTION = "direction"


@dataclass(frozen=True)
class LabelSpec:
    """A label column: its name, kind and horizon in bars."""

    name: str
    kind: LabelKind
    horizon: int

    @property
    def return_column(self) -> str:
        """The forward-return column of the same horizon (what IC is measured against)."""
        return f"{LabelKind.RETURN.value}_{self.horizon}"


def is_label_name(name: str) -> bool:
    """True for any column named like a label: it starts with one of RESERVED_PREFIXES."""
    return name.strip().lower().startswith(RESERVED_PREFIXES)


def parse_label(name: str) -> LabelSpec:
    """The LabelSpec of a label name; InvalidArgument for anything else."""
    match = _LABEL_PATTERN.match(name)
    if match is None or int(match.group(2)) < 1:
        raise InvalidArgument.for_field(
            "label", f"{name!r} is not a label; use one of {', '.join(LABEL_NAMES)}"
        )
    return LabelSpec(name, LabelKind(match.group(1)), int(match.group(2)))


def normalize_keys(table: pa.Table, what: str) -> pa.Table:
    """The table with `symbol` as string and `time` as timestamp[us, UTC] (naive read as UTC).

    Missing key columns, nulls in them or wrong types raise InvalidArgument naming `what`.
    """
    missing = [c for c in KEY_COLUMNS if c not in table.column_names]
    if missing:
        raise InvalidArgument(
            f"{what}: missing column(s) {', '.join(missing)}",
            reason="MISSING_COLUMNS",
            metadata={"table": what, "columns": ",".join(missing)},
            violations=[FieldViolation(f"{what}.{c}", "column is missing") for c in missing],
        )
    symbol = table.column("symbol")
    time = table.column("time")
    if not (pa.types.is_string(symbol.type) or pa.types.is_large_string(symbol.type)):
        raise InvalidArgument.for_field(f"{what}.symbol", f"must be a string, not {symbol.type}")
    if not pa.types.is_timestamp(time.type):
        raise InvalidArgument.for_field(f"{what}.time", f"must be a timestamp, not {time.type}")
    for name, column in (("symbol", symbol), ("time", time)):
        if column.null_count:
            raise InvalidArgument.for_field(f"{what}.{name}", f"{column.null_count} null values")
    if time.type.tz is None:
        time = pc.assume_timezone(time, "UTC")
    table = table.set_column(
        table.schema.get_field_index("time"), "time", time.cast(TIME_TYPE, safe=False)
    )
    return table.set_column(
        table.schema.get_field_index("symbol"), "symbol", symbol.cast(pa.string())
    )


def numeric_columns(table: pa.Table) -> list[str]:
    """Columns other than the keys whose type is numeric or boolean, in table order."""
    return [f.name for f in table.schema if f.name not in KEY_COLUMNS and _is_numeric(f.type)]


def check_numeric(table: pa.Table, columns: list[str] | tuple[str, ...], what: str) -> None:
    """InvalidArgument naming every listed column that is not numeric."""
    bad = [c for c in columns if not _is_numeric(table.schema.field(c).type)]
    if bad:
        raise InvalidArgument(
            f"{what}: column(s) {', '.join(bad)} are not numeric",
            reason="NON_NUMERIC_COLUMNS",
            metadata={"table": what, "columns": ",".join(bad)},
            violations=[FieldViolation(f"{what}.{c}", "must be numeric") for c in bad],
        )


def matrix(table: pa.Table, columns: list[str] | tuple[str, ...]) -> np.ndarray:
    """The listed columns as a float64 (rows, columns) matrix, nulls as NaN."""
    out = np.empty((table.num_rows, len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        out[:, j] = column_values(table.column(name))
    return out


def column_values(column: pa.ChunkedArray) -> np.ndarray:
    """One numeric column as float64, nulls as NaN."""
    cast = column.cast(pa.float64())
    values: np.ndarray = cast.to_numpy()
    return values


def time_micros(table: pa.Table) -> np.ndarray:
    """The `time` column as int64 microseconds since the epoch (UTC)."""
    micros: np.ndarray = table.column("time").cast(pa.int64()).to_numpy()
    return micros


def duplicate_key(table: pa.Table) -> tuple[str, int] | None:
    """The first (symbol, time micros) that occurs twice, or None."""
    if table.num_rows == 0:
        return None
    counts = table.group_by(list(KEY_COLUMNS)).aggregate([([], "count_all")])
    if counts.num_rows == table.num_rows:
        return None
    dup = counts.filter(pc.greater(counts.column("count_all"), 1)).slice(0, 1)
    symbol = dup.column("symbol")[0].as_py()
    micros = dup.column("time").cast(pa.int64())[0].as_py()
    return symbol, micros


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )
