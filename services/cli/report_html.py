"""The demo report's HTML summary: one self-contained page that links the PNG plots beside it.

Every value comes from the demo's summary (what the services answered); nothing is computed
here except formatting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #1d3557; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e9ecef; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #6c757d; font-size: .9em; } .warn { color: #9d0208; }
img { max-width: 100%; border: 1px solid #e9ecef; margin: .5em 0; }
"""

#: KPI rows of the comparison table: (key, label, format).
KPI_ROWS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "total return", "pct"),
    ("annualized_return", "annualized return", "pct"),
    ("volatility", "volatility (ann.)", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("max_drawdown", "max drawdown", "pct"),
    ("calmar", "Calmar", "num"),
    ("turnover", "turnover (ann.)", "num"),
    ("hit_rate", "hit rate (closed trades)", "pct"),
    ("time_in_market", "time in market", "pct"),
    ("avg_gross_exposure", "avg gross exposure", "pct"),
    ("fills", "fills", "int"),
    ("commission", "commission paid", "money"),
    ("final_equity", "final equity", "money"),
)


def fmt(value: Any, kind: str = "num") -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:.3f}" if isinstance(value, float) else escape(str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(name: str, images: Sequence[str], alt: str) -> str:
    return f'<img src="{escape(name)}" alt="{escape(alt)}">' if name in images else ""


def _data_section(summary: dict[str, Any]) -> str:
    symbols = summary["symbols"]
    first = min((s["first"] for s in symbols), default="–")
    last = max((s["last"] for s in symbols), default="–")
    return (
        "<h2>Data</h2>"
        f"<p>{summary['rows_received']:,} bars of {len(symbols)} series from {first} to {last} "
        f"in {summary['batches']} batch(es): {summary['rows_inserted']:,} new, "
        f"{summary['rows_revised']:,} revised. Every batch passed the quality gate first: "
        f"{escape(_outcomes(summary['outcomes']))}.</p>"
    )


def _outcomes(outcomes: dict[str, int]) -> str:
    """Batches per gate outcome, e.g. "29 committed, 1 quarantined"."""
    return ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items() if n) or "none"


def _quality_section(quality: dict[str, Any], images: Sequence[str]) -> str:
    counts = ", ".join(f"{n} {k.lower()}" for k, n in quality["by_severity"].items() if n)
    alerts = table(
        ("symbol", "date", "check", "severity", "score", "reason"),
        (
            (
                escape(a["symbol"]),
                a["time"],
                escape(a["check"]),
                a["severity"],
                f"{a['score']:.2f}",
                escape(a["reason"]),
            )
            for a in quality["latest_alerts"]
        ),
    )
    return (
        "<h2>Data quality</h2>"
        f"<p>{quality['events']} event(s) stored ({counts or 'none'}); "
        f"{quality['quarantined_batches']} batch(es) quarantined.</p>"
        + _image("quality.png", images, "quality events")
        + (alerts if quality["latest_alerts"] else "")
    )


def _signal_section(signal: dict[str, Any]) -> str:
    if "skipped" in signal:
        return f"<h2>Signal model</h2><p>skipped: {escape(signal['skipped'])}</p>"
    oos, model, view = signal["out_of_sample"], signal["model"], signal["feature_view"]
    folds = table(
        ("fold", "IC", "hit rate", "AUC", "rounds"),
        (
            (f["fold"], fmt(f["ic"]), fmt(f["hit_rate"]), fmt(f["auc"]), f["best_iteration"])
            for f in signal["folds"]
        ),
    )
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in signal["warnings"])
    return (
        "<h2>Signal model</h2>"
        f"<p>LightGBM <b>{escape(model['name'])}</b> v{model['version']} on feature view "
        f"{escape(view['name'])} {escape(view['version'])} ({view['features']} features), "
        f"trained on sessions up to {escape(str(signal.get('train_end', '–')))}. Purged "
        f"walk-forward validation, out of sample over {oos['dates']:,} sessions: IC "
        f"{fmt(oos['ic'])}, rank IC {fmt(oos['rank_ic'])}, ICIR {fmt(oos['icir'])}, hit rate "
        f"{fmt(oos['hit_rate'])}, AUC {fmt(oos['auc'])}.</p>" + folds + warnings
    )


def _regime_section(regime: dict[str, Any], images: Sequence[str]) -> str:
    if "skipped" in regime:
        return f"<h2>Regimes</h2><p>skipped: {escape(regime['skipped'])}</p>"
    shares = ", ".join(
        f"{k.lower().replace('_', ' ')} {v:.0%}" for k, v in regime["shares"].items()
    )
    return (
        "<h2>Regimes</h2>"
        f"<p>Model {escape(regime['model'])} fitted on {regime['symbols']} symbols; median "
        f"spell {regime['median_duration_sessions']:.0f} sessions. Share of symbol-sessions: "
        f"{shares}.</p>" + _image("regimes.png", images, "regime shading")
    )


def _backtest_section(backtest: dict[str, Any], images: Sequence[str]) -> str:
    if "skipped" in backtest:
        return f"<h2>Backtest</h2><p>skipped: {escape(backtest['skipped'])}</p>"
    runs = backtest["runs"]
    names = list(runs)
    rows = [
        (label, *(fmt(runs[n]["kpis"].get(key), kind) for n in names))
        for key, label, kind in KPI_ROWS
    ]
    provenance = table(
        ("run", "backtest", "signal model", "regime model", "data watermark"),
        (
            (
                escape(n),
                escape(runs[n]["id"]),
                escape(runs[n]["signal_model"] or "–"),
                escape(runs[n]["regime_model"] or "–"),
                escape(str(runs[n]["data_watermark"])),
            )
            for n in names
        ),
    )
    warnings = "".join(
        f'<p class="warn">{escape(w)}</p>' for n in names for w in runs[n]["warnings"]
    )
    return (
        "<h2>Backtest: signal plus regime against buy-and-hold</h2>"
        f"<p>{escape(backtest['rule'])}; {escape(backtest['costs'])}. Universe of "
        f"{len(backtest['universe'])} symbols, traded {backtest['trade_start']} to "
        f"{backtest['trade_end']}, after the models' training window (to "
        f"{backtest['train_end']}): out of sample.</p>"
        + table(("KPI", *names), rows)
        + provenance
        + warnings
        + _image("equity.png", images, "equity with forecast bands")
        + _image("drawdown.png", images, "drawdown")
    )


def _forecast_section(forecast: dict[str, Any]) -> str:
    if "skipped" in forecast:
        return f"<h2>KPI forecast</h2><p>skipped: {escape(forecast['skipped'])}</p>"
    labels = [f"p{p:g}" for p in forecast["percentiles"]]
    rows = []
    for method, detail in forecast["methods"].items():
        for kpi, values in detail["kpis"].items():
            kind = "num" if kpi == "sharpe" else "pct"
            rows.append((escape(method), escape(kpi), *(fmt(values[p], kind) for p in labels)))
    calibration = forecast["calibration"]
    if "skipped" in calibration:
        checked = f"<p class='note'>Calibration skipped: {escape(calibration['skipped'])}.</p>"
    else:
        checked = (
            f"<p>Calibration on this strategy's own history ({calibration['origins']} rolling "
            f"origins, {calibration['horizon']}-session cumulative return):</p>"
            + table(
                ("method", "80% band covered", "50% band covered", "mean pinball loss"),
                (
                    (
                        escape(m),
                        f"{c['coverage_80']:.0%}",
                        f"{c['coverage_50']:.0%}",
                        f"{c['mean_pinball_loss']:.5f}",
                    )
                    for m, c in calibration["methods"].items()
                ),
            )
        )
    return (
        f"<h2>KPI forecast: the next {forecast['horizon']} sessions</h2>"
        f"<p>Percentile bands for backtest {escape(forecast['backtest'])}.</p>"
        + table(("method", "KPI", *labels), rows)
        + checked
    )


def render(summary: dict[str, Any], images: Sequence[str]) -> str:
    """The whole page for `summary`; `images` are the PNG file names written beside it."""
    sections = [
        _data_section(summary),
        _quality_section(summary["quality"], images),
        _signal_section(summary["signal"]),
        _regime_section(summary["regime"], images),
        _backtest_section(summary.get("backtest", {"skipped": "not run"}), images),
        _forecast_section(summary.get("forecast", {"skipped": "not run"})),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>quantmesh demo report</title>"
        f"<style>{STYLE}</style></head><body><h1>quantmesh demo report</h1>"
        "<p class='note'>Every number below was answered by the mesh's services over gRPC "
        "and is out of sample unless it says otherwise.</p>" + "".join(sections) + "</body></html>"
    )
