"""The `quantmesh` command line: serve the mesh, inspect it, move bars in and out, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from services import registry
from services.cli import commands
from services.runtime.errors import QuantmeshError
from services.runtime.settings import RuntimeSettings, SettingsError, load, reference

err = Console(stderr=True, highlight=False)


def _settings_epilog() -> str:
    from services.marketdata.app import MarketDataSettings

    rows = reference(RuntimeSettings, MarketDataSettings)
    width = max(len(v) for v, _, _ in rows)
    lines = ["environment variables (see README 'Settings'):"]
    lines += [f"  {v.ljust(width)}  {h}" + (f" [default: {d}]" if d else "") for v, d, h in rows]
    return "\n".join(lines)


def _time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or time") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantmesh",
        description="quantmesh: ML and generative AI for trading, as a mesh of gRPC services.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--address",
        help="mesh address for clients (default: $QUANTMESH_ADDRESS or 127.0.0.1:50051)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="serve services in this process until SIGTERM or Ctrl-C")
    up.add_argument("--port", type=int, help="port to listen on (default: $QUANTMESH_PORT)")
    up.add_argument("--host", help="interface to bind (default: $QUANTMESH_HOST)")
    up.add_argument(
        "--service",
        action="append",
        default=[],
        choices=registry.service_names(),
        metavar="NAME",
        help=f"serve only this service (repeatable; one of: "
        f"{', '.join(registry.service_names())}); default: all",
    )

    sub.add_parser("status", help="health of every service at the address, one line each")

    ingest = sub.add_parser("ingest", help="import CSV files or folders through IngestBars")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--symbol", help="symbol for files whose name or content has none")
    ingest.add_argument(
        "--force",
        action="store_true",
        help="commit batches the quality sentinel would quarantine (the decision is recorded)",
    )

    symbols = sub.add_parser("symbols", help="list stored symbols with their coverage")
    symbols.add_argument("--prefix", default="", help="only symbols starting with this")

    bars = sub.add_parser("bars", help="print one symbol's bars as CSV")
    bars.add_argument("symbol")
    bars.add_argument("--start", type=_time, help="first time, ISO (inclusive)")
    bars.add_argument("--end", type=_time, help="last time, ISO (exclusive)")
    bars.add_argument("--frequency", choices=["1d", "1m"], default="1d")
    bars.add_argument("--as-of", type=_time, help="knowledge time: what was known then")

    demo = sub.add_parser("demo", help="start the mesh in this process and run the main job")
    demo.add_argument("--data", type=Path, help="CSV file or folder (default: synthetic market)")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("quantmesh-report"),
        help="report folder (default: ./quantmesh-report)",
    )
    demo.add_argument("--symbols", type=int, default=30, help="synthetic market size")
    demo.add_argument("--days", type=int, default=1260, help="synthetic sessions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load(RuntimeSettings)
        if args.address:
            settings = load(RuntimeSettings, address=args.address)
        return asyncio.run(commands.run(args, settings))
    except QuantmeshError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {escape(exc.message)}")
        for violation in exc.violations:
            err.print(f"  {escape(violation.field)}: {escape(violation.description)}")
        return 2
    except SettingsError as exc:
        err.print(f"[red]settings error[/red]: {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
