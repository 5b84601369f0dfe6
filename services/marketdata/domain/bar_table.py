"""The bar table: the one Arrow layout bars have everywhere (ingest, storage reads, clients).

Columns: symbol, time (timestamp[us, UTC]), open, high, low, close, volume, adj_close (nullable).
`normalize_bars` coerces a user table to that layout and `validate_bars` enforces the data rules,
naming the first bad row and field, so a batch is either wholly good or rejected.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.runtime.errors import FieldViolation, InvalidArgument


class Frequency(StrEnum):
    """Sampling interval of a bar series; the value is the short code used in storage and CLIs."""

    DAILY = "1d"
    MINUTE = "1m"


TIME_TYPE = pa.timestamp("us", tz="UTC")
PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("adj_close", pa.float64(), nullable=True),
    ]
)
STORED_BAR_SCHEMA = BAR_SCHEMA.append(pa.field("ingested_at", TIME_TYPE, nullable=False))


def _bad(row: int, field: str, description: str, table: pa.Table) -> InvalidArgument:
    symbol = table.column("symbol")[row].as_py() if "symbol" in table.column_names else None
    time = table.column("time")[row].as_py() if "time" in table.column_names else None
    where = f"rows[{row}].{field}"
    context = f" (symbol {symbol}, time {time.isoformat() if time else None})" if symbol else ""
    return InvalidArgument(
        f"{where}: {description}{context}",
        reason="INVALID_ROW",
        metadata={"row": str(row), "field": field, "symbol": str(symbol), "time": str(time)},
        violations=[FieldViolation(where, description)],
    )


def normalize_bars(table: pa.Table) -> pa.Table:
    """Cast a user table to BAR_SCHEMA: upper-case symbols, UTC microsecond times, float prices.

    Naive timestamps are read as UTC. A missing `adj_close` becomes nulls. Missing columns or
    values of the wrong type raise InvalidArgument naming the column.
    """
    columns: list[pa.Array | pa.ChunkedArray] = []
    for field in BAR_SCHEMA:
        if field.name not in table.column_names:
            if field.nullable:
                columns.append(pa.nulls(table.num_rows, field.type))
                continue
            raise InvalidArgument.for_field(field.name, "required column is missing")
        column = table.column(field.name)
        try:
            if field.name == "time":
                column = _to_utc_micros(column)
            elif field.name == "symbol":
                column = pc.utf8_upper(pc.utf8_trim_whitespace(column.cast(pa.string())))
            else:
                column = column.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise InvalidArgument.for_field(
                field.name, f"cannot read {column.type} values as {field.type}: {exc}"
            ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=BAR_SCHEMA.with_metadata(None))


def _to_utc_micros(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(TIME_TYPE)
    if pa.types.is_date(column.type):
        return column.cast(pa.timestamp("s")).cast(pa.timestamp("us")).cast(TIME_TYPE)
    raise pa.ArrowInvalid("expected a timestamp or date column")


def validate_bars(table: pa.Table) -> None:
    """Raise InvalidArgument for the first row that breaks a data rule (table in BAR_SCHEMA).

    Bad rows: empty symbol, missing time, NaN/inf/non-positive prices, high < low, open or close
    outside [low, high], negative or non-finite volume, non-finite or non-positive adj_close,
    and a (symbol, time) that appears twice in the batch.
    """
    n = table.num_rows
    if n == 0:
        return
    # (first bad row, rule order, field, description): the earliest row wins, then the rule
    # checked first, so one row breaking several rules is reported by its most basic fault.
    first_bad: list[tuple[int, int, str, str]] = []

    def flag(mask: np.ndarray, field: str, description: str) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            first_bad.append((int(idx[0]), len(first_bad), field, description))

    symbol = table.column("symbol")
    flag(
        np.asarray(pc.fill_null(pc.equal(pc.utf8_length(symbol), 0), True)),
        "symbol",
        "symbol is empty",
    )
    flag(np.asarray(table.column("time").is_null()), "time", "time is missing or unparseable")
    prices = {}
    for name in PRICE_COLUMNS:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        prices[name] = values
        flag(~np.isfinite(values), name, f"{name} must be a finite number")
        flag(np.isfinite(values) & (values <= 0), name, f"{name} must be > 0")
    o, h, low, c = prices["open"], prices["high"], prices["low"], prices["close"]
    with np.errstate(invalid="ignore"):
        flag(h < low, "high", "high is below low")
        flag((o < low) | (o > h), "open", "open lies outside [low, high]")
        flag((c < low) | (c > h), "close", "close lies outside [low, high]")
    volume = table.column("volume").to_numpy(zero_copy_only=False).astype(np.float64)
    flag(~np.isfinite(volume), "volume", "volume must be a finite number")
    with np.errstate(invalid="ignore"):
        flag(volume < 0, "volume", "volume must be >= 0")
    adj = table.column("adj_close")
    adj_values = adj.to_numpy(zero_copy_only=False).astype(np.float64)
    present = ~np.asarray(adj.is_null())
    with np.errstate(invalid="ignore"):
        flag(
            present & (~np.isfinite(adj_values) | (adj_values <= 0)),
            "adj_close",
            "adj_close must be a finite number > 0 when given",
        )
    duplicate = _duplicate_rows(table)
    if duplicate is not None:
        description = "the same symbol and time appear twice in the batch"
        first_bad.append((duplicate, len(first_bad), "time", description))
    if first_bad:
        row, _, field, description = min(first_bad)
        raise _bad(row, field, description, table)


def _duplicate_rows(table: pa.Table) -> int | None:
    """Index of the first row whose (symbol, time) already appeared earlier in the batch."""
    order = pc.sort_indices(table, sort_keys=[("symbol", "ascending"), ("time", "ascending")])
    symbols = table.column("symbol").take(order).to_numpy(zero_copy_only=False)
    times = table.column("time").take(order).cast(pa.int64()).to_numpy(zero_copy_only=False)
    repeats = (symbols[1:] == symbols[:-1]) & (times[1:] == times[:-1])
    if not repeats.any():
        return None
    # sort_indices is stable, so the second of each equal pair is the later row.
    return int(order.to_numpy()[1:][repeats].min())


def sort_bars(table: pa.Table) -> pa.Table:
    return table.sort_by([("symbol", "ascending"), ("time", "ascending")])
