"""Bar files parsed one ahead of their ingest.

Ingesting a folder is parse, send, wait for the commit, per file. Parsing the next file in a
worker thread while the current one is sent and committed lets the two overlap: the parse uses
this process while the commit runs in the server's (bench/ingest.py: 29 dow30 files).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from services.marketdata.domain.csv_formats import ParsedCsv, parse_csv


async def parse_ahead(
    paths: Sequence[Path],
    symbol: str | None = None,
    parse: Callable[[Path, str | None], ParsedCsv] = parse_csv,
) -> AsyncIterator[tuple[Path, ParsedCsv]]:
    """Each file with its `parse` (`parse_csv`) result, in order; the next file parses while
    the caller handles this one. A file that fails to parse raises when its turn comes."""
    pending: asyncio.Task[ParsedCsv] | None = None
    try:
        for index, path in enumerate(paths):
            if pending is None:
                pending = asyncio.create_task(asyncio.to_thread(parse, path, symbol))
            parsed = await pending
            pending = None
            if index + 1 < len(paths):
                pending = asyncio.create_task(asyncio.to_thread(parse, paths[index + 1], symbol))
            yield path, parsed
    finally:
        if pending is not None:
            pending.cancel()
            # Its parse error, if any, belongs to a file the caller never reached.
            await asyncio.gather(pending, return_exceptions=True)
