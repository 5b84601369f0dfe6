"""Real DJI closes for the regime model's specifications."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.csv_formats import parse_csv
from services.regime.domain.model import DailySeries
from tests.conftest import require_shared_data

#: DJI.csv's one Yahoo glitch (high below open), which validation rightly rejects.
DJI_GLITCH = datetime(2015, 8, 31, tzinfo=UTC)


def dji_bars() -> pa.Table:
    table = parse_csv(require_shared_data() / "index" / "DJI.csv").table
    return table.filter(pc.not_equal(table.column("time"), pa.scalar(DJI_GLITCH)))


def series_of(table: pa.Table, symbol: str) -> DailySeries:
    rows = table.filter(pc.equal(table.column("symbol"), symbol)).sort_by("time")
    return DailySeries(
        symbol, tuple(rows.column("time").to_pylist()), rows.column("close").to_numpy()
    )


@pytest.fixture(scope="session")
def dji() -> DailySeries:
    return series_of(dji_bars(), "DJI")
