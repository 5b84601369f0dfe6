"""Collects findings about batch rows; several findings of one check on one row merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.quality.domain.findings import Check, Finding, Severity

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(micros: int) -> datetime:
    """An aware UTC datetime of epoch microseconds."""
    return _EPOCH + timedelta(microseconds=int(micros))


def format_day(micros: int) -> str:
    """The UTC date (or date and minute, when not midnight) of epoch microseconds."""
    moment = to_datetime(micros)
    if moment.hour == moment.minute == moment.second == 0:
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M")


class FindingSink:
    """Findings keyed by (row, check); `add` merges into an existing one (max score)."""

    def __init__(self, batch: pa.Table) -> None:
        symbol = pc.fill_null(batch.column("symbol"), "")
        self._symbols: list[str] = symbol.to_pylist()
        times = batch.column("time").cast(pa.int64())
        self._times: list[int | None] = times.to_pylist()
        self._found: dict[tuple[int, Check], tuple[float, Severity, list[str]]] = {}

    def add(
        self, row: int | np.integer, check: Check, severity: Severity, score: float, reason: str
    ) -> None:
        if severity is Severity.NONE:
            return
        key = (int(row), check)
        known = self._found.get(key)
        if known is None:
            self._found[key] = (score, severity, [reason])
        else:
            known[2].append(reason)
            self._found[key] = (max(known[0], score), max(known[1], severity), known[2])

    def time_of(self, row: int) -> datetime | None:
        micros = self._times[row]
        return None if micros is None else to_datetime(micros)

    def findings(self) -> list[Finding]:
        """Every finding, ordered by row then check name."""
        result = []
        for (row, check), (score, severity, reasons) in sorted(
            self._found.items(), key=lambda item: (item[0][0], item[0][1].value)
        ):
            result.append(
                Finding(
                    row=row,
                    symbol=self._symbols[row],
                    time=self.time_of(row),
                    check=check,
                    score=float(np.clip(score, 0.0, 1.0)),
                    severity=severity,
                    reasons=tuple(reasons),
                )
            )
        return result
