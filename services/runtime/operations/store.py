"""Operation records in the owning service's DuckDB database, so they survive a restart."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from services.runtime.operations.model import (
    OperationFailure,
    OperationRecord,
    OperationResult,
    OperationState,
)

_COLUMNS = (
    "id, service, kind, state, create_time, update_time, progress, progress_message, "
    "request_id, fingerprint, end_time, result_type_url, result_value, failure"
)


class OperationStore:
    """CRUD over the `operations` table of one service's database."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection
        self._db.execute(
            """
            CREATE TABLE IF NOT EXISTS operations (
                id VARCHAR PRIMARY KEY,
                service VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                state VARCHAR NOT NULL,
                create_time TIMESTAMP NOT NULL,
                update_time TIMESTAMP NOT NULL,
                progress DOUBLE NOT NULL,
                progress_message VARCHAR NOT NULL,
                request_id VARCHAR NOT NULL,
                fingerprint VARCHAR NOT NULL,
                end_time TIMESTAMP,
                result_type_url VARCHAR,
                result_value BLOB,
                failure VARCHAR
            )
            """
        )

    def save(self, record: OperationRecord) -> None:
        """Insert or replace the record (one statement, so a crash leaves the old or new row)."""
        self._db.execute(
            f"INSERT OR REPLACE INTO operations ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _row(record),
        )

    def get(self, operation_id: str) -> OperationRecord | None:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM operations WHERE id = ?", [operation_id]
        ).fetchall()
        return _record(rows[0]) if rows else None

    def find_by_request_id(self, service: str, request_id: str) -> OperationRecord | None:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM operations WHERE service = ? AND request_id = ?",
            [service, request_id],
        ).fetchall()
        return _record(rows[0]) if rows else None

    def page(
        self,
        service: str,
        kind: str = "",
        state: OperationState | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[OperationRecord]:
        """Newest first; `after` is the (create_time iso, id) of the last record already seen."""
        sql = f"SELECT {_COLUMNS} FROM operations WHERE service = ?"
        params: list[Any] = [service]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if state is not None:
            sql += " AND state = ?"
            params.append(state.value)
        if after is not None:
            sql += " AND (create_time, id) < (?::TIMESTAMP, ?)"
            params += list(after)
        sql += " ORDER BY create_time DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_record(r) for r in self._db.execute(sql, params).fetchall()]

    def unfinished(self, service: str) -> list[OperationRecord]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM operations WHERE service = ? AND state IN (?, ?)",
            [service, OperationState.PENDING.value, OperationState.RUNNING.value],
        ).fetchall()
        return [_record(r) for r in rows]


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _row(r: OperationRecord) -> list[Any]:
    failure = None
    if r.failure is not None:
        failure = json.dumps(
            {
                "code": r.failure.code,
                "message": r.failure.message,
                "reason": r.failure.reason,
                "metadata": r.failure.metadata,
            }
        )
    return [
        r.id,
        r.service,
        r.kind,
        r.state.value,
        _naive(r.create_time),
        _naive(r.update_time),
        r.progress,
        r.progress_message,
        r.request_id,
        r.fingerprint,
        _naive(r.end_time),
        r.result.type_url if r.result else None,
        r.result.value if r.result else None,
        failure,
    ]


def _record(row: tuple[Any, ...]) -> OperationRecord:
    (
        op_id,
        service,
        kind,
        state,
        created,
        updated,
        progress,
        message,
        request_id,
        fingerprint,
        ended,
        type_url,
        value,
        failure,
    ) = row
    record = OperationRecord(
        id=op_id,
        service=service,
        kind=kind,
        state=OperationState(state),
        create_time=_aware(created) or datetime.now(UTC),
        update_time=_aware(updated) or datetime.now(UTC),
        progress=progress,
        progress_message=message,
        request_id=request_id,
        fingerprint=fingerprint,
        end_time=_aware(ended),
    )
    if type_url is not None:
        record = replace(record, result=OperationResult(type_url, bytes(value)))
    if failure is not None:
        record = replace(record, failure=OperationFailure(**json.loads(failure)))
    return record
