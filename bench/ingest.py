"""Ingest benchmark: the dow30 daily files through IngestBars and back through GetBars.

Paths, timed in the same run, repetitions interleaved:

- in-process baseline: each file read with plain pandas (`pd.read_csv`, lower-cased headers,
  dates parsed, columns picked) and inserted into a fresh DuckDB file, one transaction per file;
  read back with one DuckDB query (`ORDER BY symbol, time`) as an Arrow table, through the
  same ~1 MB-batch reader as the marketdata store (DuckDB's fastest Arrow read of the call
  variants tried).
- gRPC, server subprocess: `quantmesh up --service marketdata` in a child process (what users
  run; client and server do not share a GIL) over a fresh data dir; each file parsed with
  `parse_csv` and sent with `MeshClient.marketdata.ingest`, one batch per file and the next
  file parsing while one is sent and committed (`parse_ahead`), as `quantmesh ingest` does;
  read back with `get_bars([], Frequency.DAILY)`. The baseline's steps run one after another,
  as a script of its kind does; the parse column sums the parse times either way.
- gRPC, server in-process: the same against a `MeshServer` in this process.
- marketdata domain, no gRPC (reference): the same calls on the `MarketData` domain object
  directly, so the transport's share of the gRPC time can be read off.

Every process raises glibc's malloc thresholds as `quantmesh up` does (services/runtime/
memory.py), this one included, so that no path is measured with the allocator handicap.

Both sides end with the same rows committed to a DuckDB file, and the reads return the same rows
(checked). Ingest times include parsing; server start-up and opening the database are untimed.
Each path runs once to warm up, then `--repeat` times. Each repetition reads once untimed in the
ratio (the first read of a fresh database, and on the gRPC paths of a fresh server process,
pays first-touch costs: reported on a line of its own) and then `--reads` times. Medians are
reported.

The last line is `RESULT ingest grpc_vs_inprocess=<ratio>`: the smaller of the ingest and read
ratios (gRPC rows/s over in-process rows/s) of the server-subprocess path (of the in-process
server when only that one is measured). Target: >= 0.5 in both directions.

    python bench/ingest.py [--data ../shared/data] [--repeat 5] [--server both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

if __package__ in (None, ""):  # run as `python bench/ingest.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Sample,
    Served,
    ServeFactory,
    measure,
    median,
    peak_rss_mib,
    rate,
    result_line,
    serve_inprocess,
    serve_subprocess,
    shared_data,
    stopwatch,
    table,
)
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import ParsedCsv, find_csv_files, parse_csv
from services.marketdata.domain.parse_ahead import parse_ahead
from services.marketdata.domain.service import IngestReport, MarketData
from services.marketdata.domain.store import BarStore, open_database
from services.runtime.memory import tune_malloc
from services.runtime.settings import RuntimeSettings

DATASET = Path("daily") / "dow30"
TARGET = 0.5
BASELINE = "in-process (pandas + DuckDB)"
SUBPROCESS = "gRPC, server subprocess"
INPROCESS = "gRPC, server in-process"
DOMAIN = "marketdata domain, no gRPC"
VALUE_COLUMNS = ("symbol", "time", "open", "high", "low", "close", "volume", "adj_close")

_BASELINE_SCHEMA = """
CREATE TABLE bars (
    symbol VARCHAR NOT NULL, time TIMESTAMP NOT NULL, open DOUBLE NOT NULL,
    high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL, volume DOUBLE NOT NULL,
    adj_close DOUBLE
)
"""
_BASELINE_READ = f"SELECT {', '.join(VALUE_COLUMNS)} FROM bars ORDER BY symbol, time"


def read_with_pandas(path: Path) -> pd.DataFrame:
    """One file's bars in the bar table's columns, with plain pandas and nothing else.

    Handles the two layouts of the dow30 set: Nasdaq (`date,close,volume,open,high,low`,
    M/D/YYYY) and Yahoo (`Date,Open,High,Low,Close,Adj Close,Volume`, ISO dates).
    """
    raw = pd.read_csv(path)
    raw.columns = [name.strip().lower() for name in raw.columns]
    yahoo = "adj close" in raw.columns
    prices = {name: raw[name].astype("float64") for name in ("open", "high", "low", "close")}
    return pd.DataFrame(
        {
            "symbol": path.stem.upper(),
            "time": pd.to_datetime(raw["date"], format="%Y-%m-%d" if yahoo else "%m/%d/%Y"),
            **prices,
            "volume": raw["volume"].astype("float64"),
            "adj_close": raw["adj close"].astype("float64") if yahoo else np.nan,
        }
    )


class InProcessBaseline:
    """pandas read + DuckDB insert into a fresh file; one DuckDB query to read back."""

    def __init__(self, files: Sequence[Path], rows: int, reads: int) -> None:
        self.files, self.rows, self.reads = files, rows, reads
        self.last: pa.Table | None = None

    async def __call__(self) -> Sample:
        with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as folder:
            connection = duckdb.connect(str(Path(folder) / "bars.duckdb"))
            try:
                connection.execute(_BASELINE_SCHEMA)
                parse_s = 0.0
                with stopwatch() as ingest_s:
                    for path in self.files:
                        with stopwatch() as parse:
                            frame = read_with_pandas(path)
                        parse_s += parse()
                        connection.register("incoming", frame)
                        connection.execute("INSERT INTO bars SELECT * FROM incoming")
                        connection.unregister("incoming")
                read_s = []
                for _ in range(1 + self.reads):
                    with stopwatch() as read:
                        reader = connection.sql(_BASELINE_READ).to_arrow_reader(12_288)
                        bars = reader.read_all()
                    read_s.append(read())
            finally:
                connection.close()
        _check_rows(BASELINE, "read", bars.num_rows, self.rows)
        self.last = bars
        return {"ingest": ingest_s(), "parse": parse_s, "first read": read_s[0], "read": read_s[1:]}


class MarketDataApi(Protocol):
    """What the typed client and the domain object both offer (the contract tests' interface)."""

    async def ingest(
        self, bars: pa.Table, frequency: Frequency | None, source: str = ""
    ) -> IngestReport: ...

    async def get_bars(
        self, symbols: Sequence[str] = (), frequency: Frequency | None = Frequency.DAILY
    ) -> pa.Table: ...


@dataclass
class Opened:
    """A marketdata to measure, and the server behind it (None for the domain object)."""

    api: MarketDataApi
    served: Served | None = None


Opener = Callable[[], contextlib.AbstractAsyncContextManager[Opened]]


def over_grpc(serve: ServeFactory) -> Opener:
    """A fresh marketdata server (from `serve`) and the typed client connected to it."""

    @contextlib.asynccontextmanager
    async def open_() -> AsyncIterator[Opened]:
        async with serve(["marketdata"]) as served:
            yield Opened(served.mesh.marketdata, served)

    return open_


@contextlib.asynccontextmanager
async def domain_inprocess() -> AsyncIterator[Opened]:
    """The marketdata domain object over a fresh DuckDB file, called directly: no gRPC."""
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as folder:
        store = BarStore(open_database(Path(folder) / "marketdata.duckdb"))
        try:
            yield Opened(MarketData(store))
        finally:
            store.close()


class MarketDataPath:
    """parse_csv + one ingest per file into a fresh marketdata; get_bars of every symbol."""

    def __init__(
        self, name: str, open_: Opener, files: Sequence[Path], rows: int, reads: int
    ) -> None:
        self.name, self.open, self.files, self.rows, self.reads = name, open_, files, rows, reads
        self.last: pa.Table | None = None
        self.server_peak_rss_mib: float | None = None  # subprocess servers only

    async def __call__(self) -> Sample:
        async with self.open() as opened:
            marketdata = opened.api
            parse_times: list[float] = []
            inserted = 0

            def timed_parse(path: Path, symbol: str | None) -> ParsedCsv:
                with stopwatch() as parse:
                    parsed = parse_csv(path, symbol)
                parse_times.append(parse())
                return parsed

            with stopwatch() as ingest_s:
                async for path, parsed in parse_ahead(self.files, parse=timed_parse):
                    report = await marketdata.ingest(
                        parsed.table, parsed.frequency, f"{parsed.format.value}:{path.name}"
                    )
                    inserted += report.rows_inserted
            read_s = []
            for _ in range(1 + self.reads):
                with stopwatch() as read:
                    bars = await marketdata.get_bars([], Frequency.DAILY)
                read_s.append(read())
        if opened.served is not None and opened.served.peak_rss_mib is not None:
            peak = opened.served.peak_rss_mib
            self.server_peak_rss_mib = max(self.server_peak_rss_mib or 0.0, peak)
        _check_rows(self.name, "ingest", inserted, self.rows)
        _check_rows(self.name, "read", bars.num_rows, self.rows)
        self.last = bars
        return {
            "ingest": ingest_s(),
            "parse": sum(parse_times),
            "first read": read_s[0],
            "read": read_s[1:],
        }


def _check_rows(path: str, what: str, got: int, expected: int) -> None:
    if got != expected:
        sys.exit(f"error: {path}: {what} saw {got:,} rows, expected {expected:,}")


def check_same_rows(name: str, expected: pa.Table, got: pa.Table) -> None:
    """Exit unless `got` holds exactly the baseline's values (times compared as naive UTC)."""
    for column in VALUE_COLUMNS:
        want, have = expected.column(column), got.column(column)
        if column == "time":
            want, have = want.cast(pa.timestamp("us")), have.cast(pa.timestamp("us"))
        else:
            want = want.cast(have.type)
        if not want.equals(have):
            sys.exit(f"error: {name}: column {column!r} differs from the in-process baseline")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="IngestBars/GetBars throughput against an in-process pandas+DuckDB baseline."
    )
    parser.add_argument(
        "--data",
        type=Path,
        help=f"shared data folder (default: ../shared/data beside the checkout); reads "
        f"DATA/{DATASET.as_posix()}",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument("--reads", type=int, default=3, help="reads per repetition (default 3)")
    parser.add_argument(
        "--server",
        choices=("subprocess", "inprocess", "both"),
        default="both",
        help="where the gRPC server runs (default both; RESULT uses the subprocess)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.reads < 1:
        parser.error("--repeat and --reads must be >= 1")
    return args


async def run(args: argparse.Namespace) -> int:
    folder = shared_data(args.data) / DATASET
    files = find_csv_files([folder]) if folder.is_dir() else []
    if not files:
        sys.exit(f"error: no CSV files in {folder}")
    rows = sum(parse_csv(path).table.num_rows for path in files)
    baseline = InProcessBaseline(files, rows, args.reads)
    grpc: dict[str, MarketDataPath] = {}
    if args.server in ("subprocess", "both"):
        grpc[SUBPROCESS] = MarketDataPath(
            SUBPROCESS, over_grpc(serve_subprocess), files, rows, args.reads
        )
    if args.server in ("inprocess", "both"):
        grpc[INPROCESS] = MarketDataPath(
            INPROCESS, over_grpc(serve_inprocess), files, rows, args.reads
        )
    domain = MarketDataPath(DOMAIN, domain_inprocess, files, rows, args.reads)

    # The server subprocess raises glibc's malloc thresholds at start-up (memory.py); this
    # process does the same, so the baseline and the in-process paths are not handicapped.
    settings = RuntimeSettings()
    tuned = tune_malloc(settings.malloc_mmap_threshold_mb, settings.malloc_trim_threshold_mb)
    print(f"ingest benchmark: {len(files)} files, {rows:,} rows, from {folder}")
    print(
        f"python {platform.python_version()}, grpcio {version('grpcio')}, duckdb "
        f"{duckdb.__version__}, pyarrow {pa.__version__}, pandas {pd.__version__}; "
        f"{_cpus()} CPUs; malloc thresholds {'raised' if tuned else 'as glibc has them'} "
        "in every process"
    )
    print(f"1 warm-up + {args.repeat} repetitions, {args.reads} reads each; medians\n")
    samples = await measure({BASELINE: baseline, **grpc, DOMAIN: domain}, args.repeat)
    assert baseline.last is not None
    for path in [*grpc.values(), domain]:
        assert path.last is not None
        check_same_rows(path.name, baseline.last, path.last)

    medians = {name: {k: median(v) for k, v in kinds.items()} for name, kinds in samples.items()}
    print(
        table(
            ["path", "ingest s", "(parse s)", "ingest rows/s", "read s", "read rows/s"],
            [
                [
                    name,
                    f"{m['ingest']:.3f}",
                    f"{m['parse']:.3f}",
                    rate(rows, m["ingest"]),
                    f"{m['read']:.4f}",
                    rate(rows, m["read"]),
                ]
                for name, m in medians.items()
            ],
        )
    )
    base = medians[BASELINE]
    ratios = {
        name: (base["ingest"] / medians[name]["ingest"], base["read"] / medians[name]["read"])
        for name in [*grpc, DOMAIN]
    }
    print(f"\nratios, rows/s over the in-process baseline's (target for gRPC: >= {TARGET}):")
    print(
        table(
            ["path", "ingest", "read", "target"],
            [
                [
                    name,
                    f"{ingest:.2f}",
                    f"{read:.2f}",
                    "(no transport)"
                    if name == DOMAIN
                    else ("met" if min(ingest, read) >= TARGET else "NOT met"),
                ]
                for name, (ingest, read) in ratios.items()
            ],
        )
    )
    print(
        "first read after the ingest (a fresh database, and for gRPC a fresh server process; "
        "not in the ratios): "
        + ", ".join(f"{name} {m['first read'] * 1000:.1f} ms" for name, m in medians.items())
    )
    chosen = SUBPROCESS if SUBPROCESS in grpc else INPROCESS
    share = [1 - medians[DOMAIN][kind] / medians[chosen][kind] for kind in ("ingest", "read")]
    print(
        f"transport share of the {chosen} time (1 - domain time / gRPC time): "
        f"ingest {share[0]:.0%}, read {share[1]:.0%}"
    )
    rss = f"\npeak RSS: this process {peak_rss_mib():.0f} MiB"
    server_rss = grpc[SUBPROCESS].server_peak_rss_mib if SUBPROCESS in grpc else None
    if server_rss is not None:
        rss += f", server subprocess {server_rss:.0f} MiB"
    print(rss)
    print(f"RESULT uses: {chosen}")
    print(result_line("ingest", "grpc_vs_inprocess", min(ratios[chosen])))
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
