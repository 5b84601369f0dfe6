"""Labels: forward log returns and their direction, computed apart from features.

A label at t looks forward (bars t+1 .. t+h), so label names are reserved: no feature may carry
one, and no read of features may select one. Labels come from bars on request and are never
stored with feature values.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from services.marketdata.domain.features.schemas import KEY_FIELDS, conform
from services.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_HORIZONS = (1, 5, 20)
MAX_HORIZON = 1000
RETURN_PREFIX = "fwd_ret_"
DIRECTION_PREFIX = "direction_"
#: Names starting with these are labels (or may become labels): never features.
RESERVED_PREFIXES = ("fwd_", "direction_", "label_", "target_")


def is_label_name(name: str) -> bool:
    return name.startswith(RESERVED_PREFIXES)


def label_names(horizons: Sequence[int] = DEFAULT_HORIZONS) -> list[str]:
    """`fwd_ret_<h>` for every horizon, then `direction_<h>` for every horizon."""
    return [f"{RETURN_PREFIX}{h}" for h in horizons] + [f"{DIRECTION_PREFIX}{h}" for h in horizons]


def label_schema(horizons: Sequence[int]) -> pa.Schema:
    return pa.schema(
        [
            *KEY_FIELDS,
            *(pa.field(f"{RETURN_PREFIX}{h}", pa.float64()) for h in horizons),
            *(pa.field(f"{DIRECTION_PREFIX}{h}", pa.int8()) for h in horizons),
        ]
    )


def check_horizons(horizons: Sequence[int]) -> list[int]:
    """The horizons, validated: distinct integers in [1, MAX_HORIZON], at least one."""
    values = list(horizons)
    if not values:
        raise InvalidArgument.for_field("horizons", "at least one horizon is required")
    for h in values:
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_HORIZON:
            raise InvalidArgument.for_field(
                "horizons", f"{h!r} is not a whole number of bars in [1, {MAX_HORIZON}]"
            )
    if len(set(values)) != len(values):
        raise InvalidArgument.for_field("horizons", "a horizon appears twice")
    return values


def reject_labels(names: Sequence[str], field: str = "features") -> None:
    """InvalidArgument (reason LABEL_NOT_A_FEATURE) when any of `names` is a label name."""
    labels = [n for n in names if is_label_name(n)]
    if labels:
        description = (
            f"{', '.join(labels)} {'is a label' if len(labels) == 1 else 'are labels'} "
            f"(names starting with {', '.join(RESERVED_PREFIXES)}), never a feature: "
            "labels look forward in time; read them with labels()"
        )
        raise InvalidArgument(
            f"{field}: {description}",
            reason="LABEL_NOT_A_FEATURE",
            metadata={"names": ",".join(labels)},
            violations=[FieldViolation(field, description)],
        )


def compute_labels(
    cursor: duckdb.DuckDBPyConnection, bars: pa.Table, horizons: Sequence[int]
) -> pa.Table:
    """Labels of every bar in `bars` (symbol, time, close; naive or UTC times).

    fwd_ret_h at t = ln(close[t+h] / close[t]) within the symbol's series, NULL when t+h is past
    the last bar; direction_h = 1 when fwd_ret_h > 0, 0 when <= 0, NULL when unknown.
    """
    horizons = check_horizons(horizons)
    returns = [f"ln(lead(close, {h}) OVER w / close) AS {RETURN_PREFIX}{h}" for h in horizons]
    directions = [
        f"CAST(CASE WHEN {RETURN_PREFIX}{h} > 0 THEN 1 WHEN {RETURN_PREFIX}{h} IS NOT NULL "
        f"THEN 0 END AS TINYINT) AS {DIRECTION_PREFIX}{h}"
        for h in horizons
    ]
    sql = f"""
        WITH fwd AS (
            SELECT symbol, time, {", ".join(returns)} FROM label_bars
            WINDOW w AS (PARTITION BY symbol ORDER BY time))
        SELECT symbol, time, {", ".join(f"{RETURN_PREFIX}{h}" for h in horizons)},
               {", ".join(directions)}
        FROM fwd ORDER BY symbol, time
    """
    cursor.register("label_bars", bars.select(["symbol", "time", "close"]))
    try:
        table = cursor.sql(sql).to_arrow_table()
    finally:
        cursor.unregister("label_bars")
    return conform(table, label_schema(horizons))
