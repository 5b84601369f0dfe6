"""`quantmesh demo`: the main job of DESIGN.md §2, on one machine, every step over gRPC.

Today: start the mesh in this process, ingest the given CSV data or the seeded synthetic market,
read it back and summarise it. Later services extend it step by step.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services import registry
from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.marketdata.domain.synthetic import generate_market
from services.runtime import telemetry
from services.runtime.settings import RuntimeSettings

console = Console(highlight=False)


def _datasets(args: argparse.Namespace) -> list[tuple[str, pa.Table, Frequency]]:
    """(source label, bars, frequency) to ingest: the user's CSV files or the synthetic market."""
    if args.data is None:
        market = generate_market(n_symbols=args.symbols, n_days=args.days)
        return [("synthetic", market.bars, Frequency.DAILY)]
    return [
        (f"{p.format.value}:{p.path.name}", p.table, p.frequency)
        for p in (parse_csv(path) for path in find_csv_files([args.data]))
    ]


async def run_demo(args: argparse.Namespace, settings: RuntimeSettings) -> int:
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any server
    settings = replace(settings, port=0, host="127.0.0.1", data_dir=out_dir / "var")
    telemetry.setup_logging("WARNING", settings.log_format)
    telemetry.setup_tracing("quantmesh-demo", settings.otlp_endpoint, settings.trace_sample_ratio)
    server = registry.build_server([], settings)
    port = await server.start()
    address = f"127.0.0.1:{port}"
    console.print(
        f"[bold]quantmesh demo[/bold]: mesh of {', '.join(registry.service_names())} "
        f"serving on {address}"
    )
    try:
        async with MeshClient(settings, address=address) as mesh:
            columns = (
                TextColumn("{task.description:<28}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                datasets = _datasets(args)
                task = progress.add_task("ingest through IngestBars", total=len(datasets))
                reports = []
                for source, bars, frequency in datasets:
                    reports.append(await mesh.marketdata.ingest(bars, frequency, source))
                    progress.advance(task)
                symbols = await mesh.marketdata.all_symbols()
                read = progress.add_task("read back through GetBars", total=1)
                frequencies = sorted({c.frequency for s in symbols for c in s.series})
                stored = {f: await mesh.marketdata.get_bars([], f) for f in frequencies}
                progress.advance(read)
        summary = _summarise(reports, symbols, stored)
    finally:
        await server.stop(grace=1.0)
    _print_summary(summary)
    write_report(out_dir, summary)
    console.print(f"\nreport written to [bold]{out_dir}[/bold] (summary.json)")
    return 0


def write_report(out_dir: Path, summary: dict) -> None:  # type: ignore[type-arg]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def _summarise(reports: list, symbols: list, stored: dict[Frequency, pa.Table]) -> dict:  # type: ignore[type-arg]
    per_symbol = []
    for info in symbols:
        for c in info.series:
            bars = stored[c.frequency].filter(pc.equal(stored[c.frequency]["symbol"], info.symbol))
            closes = bars.column("close").to_pylist()
            per_symbol.append(
                {
                    "symbol": info.symbol,
                    "frequency": c.frequency.value,
                    "bars": c.row_count,
                    "first": c.first_time.date().isoformat(),
                    "last": c.last_time.date().isoformat(),
                    "first_close": closes[0],
                    "last_close": closes[-1],
                    "total_return": closes[-1] / closes[0] - 1,
                }
            )
    return {
        "batches": len(reports),
        "rows_received": sum(r.rows_received for r in reports),
        "rows_inserted": sum(r.rows_inserted for r in reports),
        "rows_revised": sum(r.rows_revised for r in reports),
        "rows_unchanged": sum(r.rows_unchanged for r in reports),
        "quality_gate": sorted({r.quality_gate for r in reports}),
        "symbols": per_symbol,
    }


def _print_summary(summary: dict) -> None:  # type: ignore[type-arg]
    console.print(
        f"\ningested {summary['rows_received']:,} rows in {summary['batches']} batch(es): "
        f"{summary['rows_inserted']:,} new, {summary['rows_revised']:,} revised, "
        f"{summary['rows_unchanged']:,} unchanged; quality gate: "
        f"{'; '.join(summary['quality_gate'])}"
    )
    table = Table("symbol", "freq", "bars", "first", "last", "last close", "total return")
    rows = summary["symbols"]
    for row in rows[:12]:
        table.add_row(
            row["symbol"],
            row["frequency"],
            f"{row['bars']:,}",
            row["first"],
            row["last"],
            f"{row['last_close']:.2f}",
            f"{row['total_return']:+.1%}",
        )
    if len(rows) > 12:
        table.add_row(f"... {len(rows) - 12} more", "", "", "", "", "", "")
    console.print(table)
