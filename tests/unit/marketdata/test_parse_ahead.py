"""Files parsed one ahead of their use: in order, overlapping, errors at their turn."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from services.marketdata.domain.csv_formats import ParsedCsv, parse_csv
from services.marketdata.domain.parse_ahead import parse_ahead
from services.runtime.errors import InvalidArgument
from tests.conftest import require_shared_data


@pytest.fixture(scope="module")
def files() -> list[Path]:
    folder = require_shared_data() / "daily" / "dow30"
    return [folder / f"{symbol}.csv" for symbol in ("AAPL", "KO", "MSFT")]


async def test_files_come_in_order_parsed_as_parse_csv_parses_them(files: list[Path]) -> None:
    got = [(path, parsed) async for path, parsed in parse_ahead(files)]
    assert [path for path, _ in got] == files
    for path, parsed in got:
        assert parsed.table.equals(parse_csv(path).table)


async def test_the_next_file_parses_while_the_caller_handles_this_one(files: list[Path]) -> None:
    started = [threading.Event() for _ in files]

    def parse(path: Path, symbol: str | None) -> ParsedCsv:
        started[files.index(path)].set()
        return parse_csv(path, symbol)

    async for path, _ in parse_ahead(files, parse=parse):
        index = files.index(path)
        if index + 1 < len(files):
            # Still inside this file's turn: the next one's parse has begun without us.
            assert await asyncio.to_thread(started[index + 1].wait, 5.0)


async def test_a_bad_file_fails_at_its_turn_after_the_good_ones(
    files: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "BAD.csv"
    bad.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,x,1,1,1,1,1\n")
    seen: list[Path] = []

    async def consume() -> None:
        async for path, _ in parse_ahead([files[0], bad, files[1]]):
            seen.append(path)

    with pytest.raises(InvalidArgument, match=r"BAD\.csv"):
        await consume()
    assert seen == [files[0]]


async def test_stopping_early_drops_the_pending_parse_and_its_error(
    files: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "BAD.csv"
    bad.write_text("not a bar file\n")
    pieces = parse_ahead([files[0], bad])
    path, _ = await anext(pieces)
    assert path == files[0]
    await pieces.aclose()  # the bad file was being parsed: its error goes nowhere
