"""The demo report: drawdowns, forecast steps on the calendar, and the HTML page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from services.cli import report_html, report_plots


def test_drawdown_is_the_fall_from_the_running_peak() -> None:
    depth = report_plots.drawdowns([100, 120, 90, 130, 65])
    assert depth == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.5])


def test_forecast_steps_fall_on_the_business_days_after_the_last_bar() -> None:
    friday = datetime(2023, 10, 27, tzinfo=UTC)
    steps = report_plots.future_sessions(friday, 3)
    assert [d.date().isoformat() for d in steps] == ["2023-10-30", "2023-10-31", "2023-11-01"]
    assert all(d.tzinfo is not None for d in steps)


def summary() -> dict:  # type: ignore[type-arg]
    return {
        "rows_received": 10,
        "rows_inserted": 10,
        "rows_revised": 0,
        "batches": 1,
        "quality_gate": ["checked"],
        "outcomes": {"committed": 3, "quarantined": 1},
        "symbols": [{"first": "2020-01-01", "last": "2020-02-01"}],
        "quality": {
            "events": 1,
            "quarantined_batches": 0,
            "by_severity": {"HIGH": 1},
            "latest_alerts": [
                {
                    "symbol": "<B>",
                    "time": "2020-01-02",
                    "check": "price_outlier",
                    "severity": "HIGH",
                    "score": 0.7,
                    "reason": "close & open <far>",
                }
            ],
        },
        "signal": {"skipped": "no daily bars"},
        "regime": {"skipped": "no daily bars"},
        "backtest": {"skipped": "needs the signal model and the regime model"},
        "forecast": {"skipped": "needs the signal model and the regime model"},
    }


def test_the_page_escapes_what_the_services_answered_and_says_what_was_skipped() -> None:
    page = report_html.render(summary(), ["quality.png"])
    assert "&lt;B&gt;" in page and "close &amp; open &lt;far&gt;" in page and "<B>" not in page
    assert '<img src="quality.png"' in page and "equity.png" not in page
    assert page.count("skipped:") == 4
    assert "3 committed, 1 quarantined" in page


def test_kpis_are_formatted_by_kind() -> None:
    assert report_html.fmt(-0.1234, "pct") == "-12.3%"
    assert report_html.fmt(1234.6, "money") == "1,235"
    assert report_html.fmt(None) == "–"
    assert report_html.fmt(0.5) == "0.500"


def test_the_equity_chart_draws_curves_and_bands(tmp_path: Path) -> None:
    times = [datetime(2023, 1, d, tzinfo=UTC) for d in range(2, 7)]
    curves = {"a": {"times": times, "equity": [100.0, 101, 99, 102, 103]}}
    bands = {"bootstrap": np.linspace(-0.1, 0.1, 5)[:, None].repeat(4, axis=1).tolist()}
    path = tmp_path / "equity.png"
    report_plots.equity_chart(path, curves, bands, [5, 25, 50, 75, 95])
    assert path.read_bytes()[:4] == b"\x89PNG"
