"""Shared test data for the feature store: real dow30 bars, synthetic markets, fresh stores."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.marketdata.domain.features import FeatureStore
from services.marketdata.domain.store import BarStore, CommitResult, open_database
from services.marketdata.domain.synthetic import generate_market
from tests.conftest import require_shared_data


@functools.cache
def _dow30() -> pa.Table:
    folder = require_shared_data() / "daily" / "dow30"
    return pa.concat_tables([parse_csv(path).table for path in find_csv_files([folder])])


def dow30_bars() -> pa.Table:
    """The 29 Dow stocks' daily bars (BAR_SCHEMA, sorted by symbol then time)."""
    return _dow30()


@functools.cache
def synthetic_bars(n_symbols: int = 12, n_days: int = 300, seed: int = 11) -> pa.Table:
    return generate_market(n_symbols, n_days, seed=seed).bars


@dataclass
class Stores:
    """An in-memory marketdata database with its bar store and feature store."""

    db: duckdb.DuckDBPyConnection
    bars: BarStore
    features: FeatureStore

    def ingest(self, table: pa.Table) -> CommitResult:
        return self.bars.commit(table, Frequency.DAILY, "test", uuid.uuid4().hex, "pass")

    def close(self) -> None:
        self.db.close()


def fresh_stores(bars: pa.Table | None = None) -> Stores:
    db = open_database(":memory:")
    bar_store = BarStore(db)
    stores = Stores(db, bar_store, FeatureStore(db, bar_store))
    if bars is not None:
        stores.ingest(bars)
    return stores
