"""`quantmesh demo`: the main job of DESIGN.md §2, on one machine, every step over gRPC.

Start the mesh in this process, ingest the given CSV data or the seeded synthetic market (the
sentinel checks every batch), read it back, materialize the default feature view, train a LightGBM
signal model with purged walk-forward validation and fit the regime model, both on the first part
of the sessions; then backtest a signal-plus-regime strategy against buy-and-hold on the rest,
forecast the strategy's KPI bands, and write a report folder (index.html, PNG plots,
summary.json).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from quantmesh.quality.v1 import quality_pb2
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services import registry
from services.cli import report_html, report_plots
from services.cli.demo_backtest import Split, backtest_stage, forecast_stage, split_sessions
from services.clients.mesh import MeshClient
from services.clients.signal import wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import find_csv_files, parse_csv
from services.marketdata.domain.synthetic import generate_market
from services.runtime import telemetry
from services.runtime.errors import QuantmeshError
from services.runtime.settings import RuntimeSettings
from services.runtime.time_convert import from_timestamp
from services.signal.domain.requests import TrainRequest

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
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # it logs schema migrations at INFO
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
                split = _split(stored)
                signal = await _signal_stage(mesh, progress, frequencies, split)
                regime = await _regime_stage(mesh, progress, stored, split)
                backtest, forecast = await _trading_stages(mesh, progress, split, signal, regime)
            quality = await _quality_stage(mesh)
        summary = _summarise(reports, symbols, stored)
        summary |= {"quality": quality, "signal": signal, "regime": regime}
        summary |= {"backtest": backtest, "forecast": forecast}
    finally:
        await server.stop(grace=1.0)
    _print_summary(summary)
    _print_quality(summary["quality"])
    _print_signal(summary["signal"])
    _print_regime(summary["regime"])
    _print_backtest(summary["backtest"], summary["forecast"])
    index = write_report(out_dir, summary, stored)
    console.print(f"\nreport written to [bold]{index}[/bold] (plots and summary.json beside it)")
    return 0


def _split(stored: dict[Frequency, pa.Table]) -> Split | None:
    daily = stored.get(Frequency.DAILY)
    if daily is None:
        return None
    return split_sessions(sorted(set(daily.column("time").to_pylist())))


def write_report(out_dir: Path, summary: dict[str, Any], stored: dict[Frequency, pa.Table]) -> Path:
    """summary.json, the PNG plots and index.html in `out_dir`; the page's path."""
    images: list[str] = []
    regime_chart = summary["regime"].pop("chart", None)
    if regime_chart is not None:
        report_plots.regime_chart(out_dir / "regimes.png", regime_chart)
        images.append("regimes.png")
    runs = summary["backtest"].get("runs", {})
    curves = {name: run.pop("equity") for name, run in runs.items()}
    if curves:
        forecast = summary["forecast"]
        bands = {m: d["path_bands"] for m, d in forecast.get("methods", {}).items()}
        report_plots.equity_chart(
            out_dir / "equity.png", curves, bands, forecast.get("percentiles", [])
        )
        report_plots.drawdown_chart(out_dir / "drawdown.png", curves)
        images += ["equity.png", "drawdown.png"]
    events = summary["quality"].pop("events_plotted")
    times = [pc.min_max(t.column("time")) for t in stored.values() if t.num_rows]
    if times:
        first, last = min(t["min"].as_py() for t in times), max(t["max"].as_py() for t in times)
        report_plots.quality_chart(out_dir / "quality.png", events, first, last)
        images.append("quality.png")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    index = out_dir / "index.html"
    index.write_text(report_html.render(summary, images))
    return index


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
        "outcomes": {
            o: sum(r.outcome.value == o for r in reports)
            for o in sorted({r.outcome.value for r in reports})
        },
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


DEMO_MODEL = "demo-direction"


async def _signal_stage(
    mesh: MeshClient, progress: Progress, frequencies: list[Frequency], split: Split | None
) -> dict[str, Any]:
    """Materialize features, train with walk-forward validation on the sessions up to the
    split, score the latest session."""
    if Frequency.DAILY not in frequencies or split is None:
        return {"skipped": "the signal model trains on daily bars; too few were ingested"}
    task = progress.add_task("materialize default features", total=1)
    view = await mesh.marketdata.materialize_features("default", Frequency.DAILY)
    progress.advance(task)
    train = progress.add_task("train LightGBM walk-forward", total=100)
    operation = await mesh.signal.train(
        TrainRequest(
            DEMO_MODEL,
            feature_version=view.version,
            label="direction_5",
            folds=4,
            end=split.train_end,
        )
    )
    async for record in mesh.operations("signal").watch(operation):
        progress.update(train, completed=round(record.progress * 100))
    report = await wait_for_training(mesh.operations("signal"), operation)
    score = progress.add_task("score the latest session", total=1)
    _, latest = await mesh.marketdata.get_features(
        "default", view.version, start=view.last_time, features=["rsi_14"]
    )
    scores = await mesh.signal.score_batch(DEMO_MODEL, latest.select(["symbol", "time"]))
    progress.advance(score)
    ranked = sorted(
        zip(scores.column("symbol").to_pylist(), scores.column("score").to_pylist(), strict=True),
        key=lambda pair: -pair[1],
    )
    overall = report.overall
    return {
        "feature_view": {
            "name": view.name,
            "version": view.version,
            "rows": view.row_count,
            "features": len(view.feature_names),
        },
        "model": {
            "name": report.model.name,
            "version": report.model.version,
            "aliases": list(report.model.aliases),
        },
        "out_of_sample": {
            "ic": overall.ic,
            "rank_ic": overall.rank_ic,
            "icir": overall.icir,
            "hit_rate": overall.hit_rate,
            "auc": overall.auc,
            "log_loss": overall.log_loss,
            "rows": overall.rows,
            "dates": overall.dates,
        },
        "folds": [
            {
                "fold": f.fold,
                "ic": f.metrics.ic,
                "hit_rate": f.metrics.hit_rate,
                "auc": f.metrics.auc,
                "best_iteration": f.best_iteration,
            }
            for f in report.folds
        ],
        "warnings": list(report.warnings),
        "train_end": split.train_end.date().isoformat(),
        "latest_session": view.last_time.date().isoformat() if view.last_time else None,
        "latest_scores": [{"symbol": s, "p_up_5d": p} for s, p in ranked],
    }


def _print_signal(signal: dict[str, Any]) -> None:
    if "skipped" in signal:
        console.print(f"\nsignal model: skipped ({signal['skipped']})")
        return
    view, model, oos = signal["feature_view"], signal["model"], signal["out_of_sample"]
    console.print(
        f"\nfeature view [bold]{view['name']}[/bold] {view['version']}: {view['features']} "
        f"features, {view['rows']:,} rows"
    )
    console.print(
        f"model [bold]{model['name']}[/bold] v{model['version']} "
        f"({', '.join(model['aliases'])}), out of sample over {oos['dates']:,} sessions: "
        f"IC {oos['ic']:+.4f}, rank IC {oos['rank_ic']:+.4f}, ICIR {oos['icir']:+.3f}, "
        f"hit rate {oos['hit_rate']:.3f}, AUC {oos['auc']:.3f}, log loss {oos['log_loss']:.4f}"
    )
    for warning in signal["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    folds = Table("fold", "IC", "hit rate", "AUC", "rounds")
    for f in signal["folds"]:
        folds.add_row(
            str(f["fold"]),
            f"{f['ic']:+.4f}",
            f"{f['hit_rate']:.3f}",
            f"{f['auc']:.3f}",
            str(f["best_iteration"]),
        )
    console.print(folds)
    ranked = signal["latest_scores"]
    top = ", ".join(f"{r['symbol']} {r['p_up_5d']:.3f}" for r in ranked[:5])
    bottom = ", ".join(f"{r['symbol']} {r['p_up_5d']:.3f}" for r in ranked[-5:])
    console.print(
        f"scores for {signal['latest_session']} (P(up over 5 sessions)): top {top}; bottom {bottom}"
    )


async def _quality_stage(mesh: MeshClient) -> dict[str, Any]:
    """What the sentinel found while the data came in: the dashboard panel."""
    panel = await mesh.quality.summary(latest_alerts=10)
    events: list[dict[str, Any]] = []
    token = ""
    while True:
        page = await mesh.quality.list_events(page_size=1_000, page_token=token)
        events += [
            {
                "symbol": e.symbol,
                "time": from_timestamp(e.time),
                "severity": quality_pb2.Severity.Name(e.severity).removeprefix("SEVERITY_"),
            }
            for e in page.events
        ]
        token = page.next_page_token
        if not token:
            break
    return {
        "events_plotted": events,
        "events": panel.total_events,
        "open": panel.open_events,
        "quarantined_batches": panel.quarantined_batches,
        "by_severity": {c.key: c.count for c in panel.by_severity},
        "by_check": {c.key: c.count for c in panel.by_check},
        "latest_alerts": [
            {
                "symbol": e.symbol,
                "time": e.time.ToDatetime().date().isoformat(),
                "check": e.check,
                "severity": quality_pb2.Severity.Name(e.severity).removeprefix("SEVERITY_"),
                "score": round(e.score, 3),
                "reason": e.reasons[0].detail if e.reasons else "",
            }
            for e in panel.latest_alerts
        ],
    }


def _print_quality(quality: dict[str, Any]) -> None:
    counts = ", ".join(f"{n} {k}" for k, n in quality["by_severity"].items() if n) or "none"
    checks = ", ".join(f"{k} {n}" for k, n in quality["by_check"].items())
    console.print(
        f"\nquality sentinel: {quality['events']} event(s) stored ({counts}); by check: "
        f"{checks or 'none'}; {quality['quarantined_batches']} batch(es) quarantined"
    )
    if quality["latest_alerts"]:
        alerts = Table("symbol", "date", "check", "severity", "score", "why")
        for a in quality["latest_alerts"][:8]:
            alerts.add_row(
                a["symbol"],
                a["time"],
                a["check"],
                a["severity"],
                f"{a['score']:.2f}",
                escape(a["reason"][:70]),
            )
        console.print(alerts)


async def _regime_stage(
    mesh: MeshClient, progress: Progress, stored: dict[Frequency, pa.Table], split: Split | None
) -> dict[str, Any]:
    """Fit the regime model on every daily symbol (pooled) up to the split, then read their
    regime history (causal: each session's label uses bars up to it only)."""
    daily = stored.get(Frequency.DAILY)
    if daily is None or daily.num_rows == 0 or split is None:
        return {"skipped": "too few daily bars"}
    symbols = sorted(set(daily.column("symbol").to_pylist()))[:100]
    task = progress.add_task("fit regimes (FitRegimeModel)", total=2)
    try:
        model, _ = await mesh.regime.fit(symbols, end=split.train_end)
    except QuantmeshError as exc:
        progress.advance(task, 2)
        return {"skipped": exc.message}
    progress.advance(task)
    history = await mesh.regime.history(symbols)
    progress.advance(task)
    regimes = history.column("regime").to_pylist()
    shares = {name: regimes.count(name) / len(regimes) for name in sorted(set(regimes))}
    first = symbols[0]
    mine = history.filter(pc.equal(history.column("symbol"), first))
    bars = daily.filter(pc.equal(daily.column("symbol"), first))
    return {
        "model": f"{model.name}/{model.version}",
        "train_end": split.train_end.date().isoformat(),
        "symbols": len(symbols),
        "median_duration_sessions": model.median_duration_sessions,
        "shares": shares,
        "chart": {
            "symbol": first,
            "bar_times": bars.column("time").to_pylist(),
            "closes": bars.column("close").to_pylist(),
            "times": mine.column("time").to_pylist(),
            "regimes": mine.column("regime").to_pylist(),
        },
    }


async def _trading_stages(
    mesh: MeshClient,
    progress: Progress,
    split: Split | None,
    signal: dict[str, Any],
    regime: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Backtest the signal-plus-regime strategy against buy-and-hold, then forecast its KPIs."""
    if split is None or "skipped" in signal or "skipped" in regime:
        reason = {"skipped": "needs the signal model and the regime model"}
        return reason, reason
    task = progress.add_task("backtest (RunBacktest x 2)", total=1)
    universe = tuple(sorted(s["symbol"] for s in signal["latest_scores"]))
    backtest = await backtest_stage(mesh, universe, split, signal["model"]["name"], regime["model"])
    progress.advance(task)
    task = progress.add_task("forecast KPI bands", total=1)
    strategy = backtest["runs"]["signal_regime"]
    forecast = await forecast_stage(mesh, strategy["id"], len(strategy["equity"]["equity"]))
    progress.advance(task)
    return backtest, forecast


def _print_backtest(backtest: dict[str, Any], forecast: dict[str, Any]) -> None:
    if "skipped" in backtest:
        console.print(f"\n[bold]backtest[/bold]: skipped ({backtest['skipped']})")
        return
    runs = backtest["runs"]
    console.print(
        f"\n[bold]backtest[/bold] {backtest['trade_start']} to {backtest['trade_end']} (models "
        f"trained to {backtest['train_end']}): {escape(backtest['rule'])}; {backtest['costs']}"
    )
    kpis = Table("KPI", *runs)
    for key, label, kind in report_html.KPI_ROWS[:8]:
        kpis.add_row(label, *(report_html.fmt(r["kpis"].get(key), kind) for r in runs.values()))
    console.print(kpis)
    for run in runs.values():
        for warning in run["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if "skipped" in forecast:
        return
    lines = []
    for method, detail in forecast["methods"].items():
        cumulative = detail["kpis"]["cumulative_return"]
        lines.append(
            f"{method} p5 {cumulative['p5']:+.1%} / p50 {cumulative['p50']:+.1%} / "
            f"p95 {cumulative['p95']:+.1%}"
        )
    console.print(
        f"strategy return over the next {forecast['horizon']} sessions: {'; '.join(lines)}"
    )
    calibration = forecast["calibration"]
    if "skipped" not in calibration:
        covered = ", ".join(
            f"{m} {c['coverage_80']:.0%}" for m, c in calibration["methods"].items()
        )
        console.print(
            f"80% band coverage on the strategy's history ({calibration['origins']} origins, "
            f"{calibration['horizon']} sessions): {covered}"
        )


def _print_regime(regime: dict[str, Any]) -> None:
    if "skipped" in regime:
        console.print(f"\n[bold]regimes[/bold]: skipped ({regime['skipped']})")
        return
    shares = ", ".join(f"{k.lower()} {v:.0%}" for k, v in regime["shares"].items())
    console.print(
        f"\n[bold]regimes[/bold] ({regime['model']}, {regime['symbols']} symbols, median spell "
        f"{regime['median_duration_sessions']:.0f} sessions): {shares}"
    )
