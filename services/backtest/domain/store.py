"""The KPI store: every backtest's record, equity curve and trades in one DuckDB database.

Tables: `backtests` (one row per run, keyed by its name "backtests/{id}": the config as JSON,
state and progress, KPIs as JSON, the data watermark and the model and feature versions used,
times, error), `backtest_equity` (one row per reported bar of each run) and `backtest_trades`
(one row per fill of each run). A finished run's row, curve and trades are written in one
transaction, so a crash never leaves a run half stored. Times are stored as naive UTC.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from backtest.config_codec import config_from_dict, config_to_dict
from backtest.kpis import Kpis
from backtest.results import BacktestResult
from services.backtest.domain.records import (
    BacktestRecord,
    BacktestState,
    ModelUsed,
    Provenance,
    RunError,
    backtest_name,
)
from services.runtime.errors import NotFound
from services.runtime.time_convert import aware_utc, naive_utc

TIME = pa.timestamp("us", tz="UTC")

EQUITY_SCHEMA = pa.schema(
    [
        pa.field("time", TIME, nullable=False),
        pa.field("equity", pa.float64()),
        pa.field("cash", pa.float64()),
        pa.field("gross_exposure", pa.float64()),
        pa.field("net_exposure", pa.float64()),
        pa.field("bar_return", pa.float64()),
    ]
)
TRADES_SCHEMA = pa.schema(
    [
        pa.field("time", TIME, nullable=False),
        pa.field("symbol", pa.string()),
        pa.field("side", pa.string()),
        pa.field("quantity", pa.float64()),
        pa.field("price", pa.float64()),
        pa.field("commission", pa.float64()),
        pa.field("slippage", pa.float64()),
        pa.field("decision_time", TIME),
    ]
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS backtests (
    name VARCHAR PRIMARY KEY,
    id VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    request_id VARCHAR NOT NULL,
    strategy_name VARCHAR NOT NULL,
    config VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    progress DOUBLE NOT NULL,
    progress_message VARCHAR NOT NULL,
    kpis VARCHAR,
    data_watermark TIMESTAMP,
    signal_model VARCHAR,
    signal_model_version BIGINT,
    signal_feature_version VARCHAR,
    regime_model VARCHAR,
    regime_model_version BIGINT,
    regime_feature_version VARCHAR,
    feature_view VARCHAR NOT NULL,
    feature_version VARCHAR NOT NULL,
    warnings VARCHAR NOT NULL,
    bar_count BIGINT NOT NULL,
    trade_count BIGINT NOT NULL,
    error VARCHAR,
    create_time TIMESTAMP NOT NULL,
    start_time TIMESTAMP,
    end_time TIMESTAMP
);
CREATE TABLE IF NOT EXISTS backtest_equity (
    backtest VARCHAR NOT NULL,
    time TIMESTAMP NOT NULL,
    equity DOUBLE,
    cash DOUBLE,
    gross_exposure DOUBLE,
    net_exposure DOUBLE,
    bar_return DOUBLE
);
CREATE TABLE IF NOT EXISTS backtest_trades (
    backtest VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    time TIMESTAMP NOT NULL,
    symbol VARCHAR,
    side VARCHAR,
    quantity DOUBLE,
    price DOUBLE,
    commission DOUBLE,
    slippage DOUBLE,
    decision_time TIMESTAMP
);
CREATE INDEX IF NOT EXISTS backtest_equity_by_run ON backtest_equity (backtest);
CREATE INDEX IF NOT EXISTS backtest_trades_by_run ON backtest_trades (backtest);
"""

_COLUMNS = (
    "name, id, operation, request_id, strategy_name, config, state, progress, progress_message, "
    "kpis, data_watermark, signal_model, signal_model_version, signal_feature_version, "
    "regime_model, regime_model_version, regime_feature_version, feature_view, feature_version, "
    "warnings, bar_count, trade_count, error, create_time, start_time, end_time"
)


class BacktestStore:
    """CRUD over the backtest tables; safe to call from the event loop and worker threads."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection.cursor()
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- records ------------------------------------------------------------------------------

    def save(self, record: BacktestRecord) -> None:
        """Insert or replace the record's row (one statement)."""
        placeholders = ", ".join("?" * len(_COLUMNS.split(",")))
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO backtests ({_COLUMNS}) VALUES ({placeholders})",
                _row(record),
            )

    def get(self, backtest_id: str) -> BacktestRecord:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM backtests WHERE name = ?", [backtest_name(backtest_id)]
            ).fetchall()
        if not rows:
            raise NotFound(
                f"no backtest {backtest_name(backtest_id)}",
                metadata={"backtest": backtest_name(backtest_id)},
            )
        return _record(rows[0])

    def exists(self, backtest_id: str) -> bool:
        with self._lock:
            rows = self._db.execute(
                "SELECT 1 FROM backtests WHERE name = ?", [backtest_name(backtest_id)]
            ).fetchall()
        return bool(rows)

    def page(
        self,
        strategy_name: str = "",
        state: BacktestState | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[BacktestRecord]:
        """Newest first; `after` is the (create_time iso, id) of the last record already seen."""
        sql = f"SELECT {_COLUMNS} FROM backtests WHERE TRUE"
        params: list[Any] = []
        if strategy_name:
            sql += " AND strategy_name = ?"
            params.append(strategy_name)
        if state is not None:
            sql += " AND state = ?"
            params.append(state.value)
        if after is not None:
            sql += " AND (create_time, id) < (?::TIMESTAMP, ?)"
            params += list(after)
        sql += " ORDER BY create_time DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_record(r) for r in rows]

    def unfinished(self) -> list[BacktestRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM backtests WHERE state IN (?, ?)",
                [BacktestState.PENDING.value, BacktestState.RUNNING.value],
            ).fetchall()
        return [_record(r) for r in rows]

    # -- results ------------------------------------------------------------------------------

    def save_result(self, record: BacktestRecord, result: BacktestResult) -> None:
        """The finished record with its equity curve and trades, in one transaction (a rerun
        of the same id replaces what was stored)."""
        name = record.name
        equity = equity_table(result, float(record.config.initial_cash))
        trades = result.trades.to_table()
        curve = _naive_times(equity, ("time",)).add_column(
            0, "backtest", pa.array([name] * equity.num_rows, pa.string())
        )
        fills = _naive_times(trades, ("time", "decision_time"))
        fills = fills.add_column(0, "seq", pa.array(np.arange(trades.num_rows), pa.int64()))
        fills = fills.add_column(0, "backtest", pa.array([name] * trades.num_rows, pa.string()))
        placeholders = ", ".join("?" * len(_COLUMNS.split(",")))
        with self._lock:
            cursor = self._db
            cursor.execute("BEGIN TRANSACTION")
            try:
                cursor.execute("DELETE FROM backtest_equity WHERE backtest = ?", [name])
                cursor.execute("DELETE FROM backtest_trades WHERE backtest = ?", [name])
                cursor.register("incoming_equity", curve)
                cursor.register("incoming_trades", fills)
                cursor.execute(
                    "INSERT INTO backtest_equity SELECT backtest, time, equity, cash, "
                    "gross_exposure, net_exposure, bar_return FROM incoming_equity"
                )
                cursor.execute(
                    "INSERT INTO backtest_trades SELECT backtest, seq, time, symbol, side, "
                    "quantity, price, commission, slippage, decision_time FROM incoming_trades"
                )
                cursor.execute(
                    f"INSERT OR REPLACE INTO backtests ({_COLUMNS}) VALUES ({placeholders})",
                    _row(record),
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.unregister("incoming_equity")
                cursor.unregister("incoming_trades")

    def equity(self, backtest_id: str) -> pa.Table:
        with self._lock:
            table = self._db.sql(
                "SELECT time, equity, cash, gross_exposure, net_exposure, bar_return "
                "FROM backtest_equity WHERE backtest = $name ORDER BY time",
                params={"name": backtest_name(backtest_id)},
            ).to_arrow_table()
        return _aware_times(table, EQUITY_SCHEMA)

    def trades(self, backtest_id: str) -> pa.Table:
        with self._lock:
            table = self._db.sql(
                "SELECT time, symbol, side, quantity, price, commission, slippage, decision_time "
                "FROM backtest_trades WHERE backtest = $name ORDER BY seq",
                params={"name": backtest_name(backtest_id)},
            ).to_arrow_table()
        return _aware_times(table, TRADES_SCHEMA)


def equity_table(result: BacktestResult, initial_cash: float) -> pa.Table:
    """The equity curve with each bar's return (the first against the initial cash)."""
    equity = result.equity.equity
    previous = np.concatenate([[initial_cash], equity[:-1]])
    table = result.equity.to_table()
    return table.append_column("bar_return", pa.array(equity / previous - 1, pa.float64()))


def _naive_times(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    for column in columns:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, table.column(column).cast(pa.timestamp("us")))
    return table


def _aware_times(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us")).cast(pa.int64()).cast(TIME)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


# -- rows ----------------------------------------------------------------------------------


def kpis_to_json(kpis: Kpis) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(kpis).items()}
    )


def kpis_from_json(text: str) -> Kpis:
    data = json.loads(text)
    for key in ("drawdown_start", "drawdown_trough", "drawdown_recovery"):
        if data.get(key) is not None:
            data[key] = datetime.fromisoformat(data[key])
    return Kpis(**data)


def _row(r: BacktestRecord) -> list[Any]:
    p = r.provenance
    signal, regime = p.signal_model, p.regime_model
    error = None
    if r.error is not None:
        error = json.dumps(
            {
                "code": r.error.code,
                "message": r.error.message,
                "reason": r.error.reason,
                "fields": list(r.error.fields),
            }
        )
    return [
        r.name,
        r.id,
        r.operation,
        r.request_id,
        r.config.name,
        json.dumps(config_to_dict(r.config)),
        r.state.value,
        r.progress,
        r.progress_message,
        None if r.kpis is None else kpis_to_json(r.kpis),
        naive_utc(p.data_watermark),
        signal.name if signal else None,
        signal.version if signal else None,
        signal.feature_version if signal else None,
        regime.name if regime else None,
        regime.version if regime else None,
        regime.feature_version if regime else None,
        p.feature_view,
        p.feature_version,
        json.dumps(list(p.warnings)),
        r.bar_count,
        r.trade_count,
        error,
        naive_utc(r.create_time),
        naive_utc(r.start_time),
        naive_utc(r.end_time),
    ]


def _record(row: tuple[Any, ...]) -> BacktestRecord:
    (
        _name,
        backtest_id,
        operation,
        request_id,
        _strategy,
        config,
        state,
        progress,
        progress_message,
        kpis,
        watermark,
        signal_name,
        signal_version,
        signal_features,
        regime_name,
        regime_version,
        regime_features,
        feature_view,
        feature_version,
        warnings,
        bar_count,
        trade_count,
        error,
        created,
        started,
        ended,
    ) = row
    signal = None
    if signal_name is not None:
        signal = ModelUsed(signal_name, int(signal_version), signal_features or "")
    regime = None
    if regime_name is not None:
        regime = ModelUsed(regime_name, int(regime_version), regime_features or "")
    failure = None
    if error is not None:
        data = json.loads(error)
        failure = RunError(data["code"], data["message"], data["reason"], tuple(data["fields"]))
    return BacktestRecord(
        id=backtest_id,
        config=config_from_dict(json.loads(config)),
        state=BacktestState(state),
        create_time=aware_utc(created) or datetime.now(UTC),
        operation=operation,
        request_id=request_id,
        progress=progress,
        progress_message=progress_message,
        start_time=aware_utc(started),
        end_time=aware_utc(ended),
        kpis=None if kpis is None else kpis_from_json(kpis),
        provenance=Provenance(
            aware_utc(watermark),
            signal,
            regime,
            feature_view or "",
            feature_version or "",
            tuple(json.loads(warnings)),
        ),
        error=failure,
        bar_count=int(bar_count),
        trade_count=int(trade_count),
    )
