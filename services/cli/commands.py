"""What each `quantmesh` subcommand does (argument parsing lives in main.py)."""

from __future__ import annotations

import argparse
import gc
import sys
from dataclasses import replace

import pyarrow.csv as pacsv
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from services import registry
from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files
from services.marketdata.domain.gate import IngestOutcome
from services.marketdata.domain.parse_ahead import parse_ahead
from services.runtime import telemetry
from services.runtime.memory import tune_malloc
from services.runtime.settings import RuntimeSettings

out = Console(highlight=False)


async def run(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    handler = {
        "up": up,
        "status": status,
        "ingest": ingest,
        "symbols": symbols,
        "bars": bars,
        "demo": demo,
    }[args.command]
    return await handler(args, settings)


async def up(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    if args.port is not None:
        settings = replace(settings, port=args.port)
    if args.host is not None:
        settings = replace(settings, host=args.host)
    telemetry.setup_logging(settings.log_level, settings.log_format)
    tune_malloc(settings.malloc_mmap_threshold_mb, settings.malloc_trim_threshold_mb)
    names = args.service or registry.service_names()
    telemetry.setup_tracing(
        "quantmesh-" + "-".join(names) if len(names) == 1 else "quantmesh",
        settings.otlp_endpoint,
        settings.trace_sample_ratio,
    )
    server = registry.build_server(args.service, settings)
    await server.start()
    # What start-up built (modules, stores, loaded models) lives as long as this process: move it
    # out of the collector's generations, so that full collections walk only what came after.
    # Measured in bench/signal_serving.py: full collections during serving took 113-132 ms
    # instead of 177-237 ms, pauses that land on whichever calls are in flight.
    gc.collect()
    gc.freeze()
    server.stop_on_signals()
    await server.wait()
    return 0


async def status(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    from services.runtime.server import OPERATIONS_SERVICE

    healthy = True
    async with MeshClient(settings) as mesh:
        for name in registry.service_names():
            result = await mesh.health(name).check(registry.entry(name).full_name)
            healthy &= result.status == "SERVING"
            detail = f"  {escape(result.detail)}" if result.detail else ""
            out.print(f"{name:<12} {result.status:<16} {mesh.address_for(name)}{detail}")
        ops = await mesh.health("marketdata").check(OPERATIONS_SERVICE)
        out.print(f"{'operations':<12} {ops.status:<16} {mesh.address_for('marketdata')}")
    return 0 if healthy else 1


async def ingest(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    files = find_csv_files(args.paths)
    if not files:
        out.print("no CSV files found")
        return 1
    table = Table(
        "file", "format", "symbol", "received", "inserted", "revised", "unchanged", "outcome"
    )
    quarantined: list[str] = []
    async with MeshClient(settings) as mesh:
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("ingesting", total=len(files))
            async for path, parsed in parse_ahead(files, args.symbol):
                report = await mesh.marketdata.ingest(
                    parsed.table,
                    parsed.frequency,
                    f"{parsed.format.value}:{path.name}",
                    force=args.force,
                )
                if report.outcome is IngestOutcome.QUARANTINED:
                    quarantined.append(f"{path.name}: {report.quality_gate}")
                    table.add_row(
                        path.name, parsed.format.value, "", str(report.rows_received),
                        "0", "0", "0", report.outcome.value,
                    )  # fmt: skip
                for c in report.symbols:
                    table.add_row(
                        path.name,
                        parsed.format.value,
                        c.symbol,
                        str(c.received),
                        str(c.inserted),
                        str(c.revised),
                        str(c.unchanged),
                        report.outcome.value,
                    )
                progress.advance(task)
    out.print(table)
    for line in quarantined:
        out.print(
            f"quarantined by the quality sentinel: {escape(line)}\n"
            "  (the sentinel's events say why; re-run with --force to commit it anyway)"
        )
    return 0


async def symbols(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    table = Table("symbol", "frequency", "first", "last", "bars")
    async with MeshClient(settings) as mesh:
        for info in await mesh.marketdata.all_symbols(prefix=args.prefix):
            for c in info.series:
                table.add_row(
                    info.symbol,
                    c.frequency.value,
                    c.first_time.isoformat(),
                    c.last_time.isoformat(),
                    str(c.row_count),
                )
    out.print(table)
    return 0


async def bars(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    async with MeshClient(settings) as mesh:
        table = await mesh.marketdata.get_bars(
            [args.symbol], Frequency(args.frequency), args.start, args.end, args.as_of
        )
    pacsv.write_csv(table, sys.stdout.buffer)
    return 0


async def demo(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    from services.cli.demo import run_demo

    return await run_demo(args, settings)
