"""The DuckDB signal log: ordered, atomic, idempotent appends and resumable reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from services.runtime.errors import InvalidArgument
from services.signal.domain.signal_log import Signal, SignalLog

DAY = datetime(2024, 3, 4, tzinfo=UTC)
STREAM = "alpha@champion"


def _signals(*symbols: str, score: float = 0.5) -> list[Signal]:
    return [Signal(s, score + i / 100) for i, s in enumerate(symbols)]


@pytest.fixture
def log() -> SignalLog:
    return SignalLog(duckdb.connect())


def test_batches_get_increasing_sequences_and_read_back_in_order(log: SignalLog) -> None:
    assert log.last_sequence == 0
    first = log.append(STREAM, 1, "fv1", DAY, _signals("MSFT", "AAPL"))
    second = log.append(STREAM, 1, "fv1", DAY + timedelta(days=1), _signals("AAPL"))
    assert first is not None and second is not None
    assert (first.sequence, second.sequence, log.last_sequence) == (1, 2, 2)
    assert [s.symbol for s in first.signals] == ["AAPL", "MSFT"]
    batches = log.read_after(0, STREAM)
    assert batches == [first, second]
    assert batches[0].bar_time == DAY and batches[0].bar_time.tzinfo is not None
    assert batches[0].feature_view_version == "fv1"
    assert log.read_after(1, STREAM) == [second]
    assert log.read_after(2, STREAM) == []


def test_appends_are_idempotent_per_version_bar_time_and_symbol(log: SignalLog) -> None:
    assert log.append(STREAM, 1, "fv1", DAY, _signals("AAPL", "MSFT")) is not None
    assert log.append(STREAM, 1, "fv1", DAY, _signals("AAPL", "MSFT", score=0.9)) is None
    partial = log.append(STREAM, 1, "fv1", DAY, _signals("AAPL", "MSFT", "IBM"))
    assert partial is not None and [s.symbol for s in partial.signals] == ["IBM"]
    new_version = log.append(STREAM, 2, "fv1", DAY, _signals("AAPL"))
    other_stream = log.append("alpha@challenger", 1, "fv1", DAY, _signals("AAPL"))
    assert new_version is not None and other_stream is not None
    assert log.last_sequence == 4
    assert [b.sequence for b in log.read_after(0, STREAM)] == [1, 2, 3]


def test_reads_filter_symbols_skip_empty_batches_and_page(log: SignalLog) -> None:
    for d in range(6):
        symbols = ("AAPL", "MSFT") if d % 2 == 0 else ("IBM",)
        log.append(STREAM, 1, "fv1", DAY + timedelta(days=d), _signals(*symbols))
    msft = log.read_after(0, STREAM, {"MSFT"})
    assert [b.sequence for b in msft] == [1, 3, 5]
    assert all([s.symbol for s in b.signals] == ["MSFT"] for b in msft)
    assert [b.sequence for b in log.read_after(1, STREAM, {"MSFT", "IBM"}, limit=2)] == [2, 3]
    assert log.read_after(0, STREAM, {"GE"}) == []
    assert [b.sequence for b in log.read_after(0, STREAM, limit=4)] == [1, 2, 3, 4]
    with pytest.raises(InvalidArgument):
        log.read_after(-1, STREAM)


def test_a_failed_append_leaves_nothing_behind(log: SignalLog) -> None:
    log.append(STREAM, 1, "fv1", DAY, _signals("AAPL"))

    class Broken:
        """The connection, failing between the batch row and its signals."""

        def __init__(self, inner: duckdb.DuckDBPyConnection) -> None:
            self.inner = inner

        def register(self, *args: object) -> None:
            raise RuntimeError("disk full")

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    inner = log._db
    log._db = Broken(inner)  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        log.append(STREAM, 1, "fv1", DAY + timedelta(days=1), _signals("MSFT"))
    log._db = inner
    assert log.last_sequence == 1
    assert inner.execute("SELECT count(*) FROM signal_batches").fetchone() == (1,)
    assert inner.execute("SELECT count(*) FROM signals").fetchone() == (1,)
    again = log.append(STREAM, 1, "fv1", DAY + timedelta(days=1), _signals("MSFT"))
    assert again is not None and again.sequence == 2


def test_the_log_survives_a_restart_and_continues_its_sequence(tmp_path: Path) -> None:
    path = tmp_path / "signal.duckdb"
    connection = duckdb.connect(str(path))
    SignalLog(connection).append(STREAM, 1, "fv1", DAY, _signals("AAPL"))
    connection.close()
    connection = duckdb.connect(str(path))
    log = SignalLog(connection)
    assert log.last_sequence == 1
    batch = log.append(STREAM, 1, "fv1", DAY + timedelta(days=1), _signals("AAPL"))
    assert batch is not None and batch.sequence == 2
    assert [b.sequence for b in log.read_after(0, STREAM)] == [1, 2]
    connection.close()


def test_bad_signals_are_refused(log: SignalLog) -> None:
    for signals in (
        [Signal("AAPL", 0.1), Signal("AAPL", 0.2)],
        [Signal("AAPL", float("nan"))],
        [Signal("", 0.1)],
    ):
        with pytest.raises(InvalidArgument):
            log.append(STREAM, 1, "fv1", DAY, signals)
    assert log.last_sequence == 0
