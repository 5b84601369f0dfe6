"""The `quantmesh` command line against a real server process, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.e2e.conftest import cli, free_port


def test_ingest_list_and_read_real_files(
    mesh_process: tuple[subprocess.Popen[str], dict[str, str]], shared_data: Path
) -> None:
    _, env = mesh_process
    ingested = cli(
        "ingest",
        str(shared_data / "daily" / "dow30" / "AAPL.csv"),
        str(shared_data / "intraday"),
        env=env,
    )
    assert ingested.returncode == 0, ingested.stderr
    assert "AAPL" in ingested.stdout and "2518" in ingested.stdout
    listed = cli("symbols", env=env)
    assert listed.returncode == 0 and "AAPL" in listed.stdout and "1m" in listed.stdout
    bars = cli("bars", "AAPL", "--start", "2018-11-19", "--end", "2018-11-24", env=env)
    assert bars.returncode == 0, bars.stderr
    lines = bars.stdout.strip().splitlines()
    assert lines[0].startswith('"symbol","time","open"')
    # 19 to 23 November 2018: four sessions, the market was closed for Thanksgiving on the 22nd.
    assert [line.split(",")[1][:10] for line in lines[1:]] == [
        "2018-11-19",
        "2018-11-20",
        "2018-11-21",
        "2018-11-23",
    ]


def test_bad_input_exits_non_zero_with_the_reason(
    mesh_process: tuple[subprocess.Popen[str], dict[str, str]], tmp_path: Path
) -> None:
    _, env = mesh_process
    missing = cli("bars", "NOPE", env=env)
    assert missing.returncode == 2
    assert "NOT_FOUND" in missing.stderr and "NOPE" in missing.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,10,9,8,9.5,9.5,100\n")
    rejected = cli("ingest", str(broken), env=env)
    assert rejected.returncode == 2
    assert "rows[0].open: open lies outside [low, high]" in rejected.stderr
    assert cli("ingest", str(tmp_path / "nothing-here"), env=env).returncode == 2


def test_status_reports_unreachable_when_nothing_listens(tmp_path: Path) -> None:
    env = {**os.environ, "QUANTMESH_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = cli("status", env=env)
    assert result.returncode == 1
    assert "UNREACHABLE" in result.stdout


def test_sigterm_stops_the_server_cleanly(
    mesh_process: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, _ = mesh_process
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert process.stderr is not None and "stopped" in process.stderr.read()


def test_demo_runs_the_main_job_and_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = cli(
        "demo",
        "--out",
        str(out),
        "--symbols",
        "5",
        "--days",
        "700",
        env={**os.environ, "QUANTMESH_PORT": str(free_port())},
    )
    assert result.returncode == 0, result.stderr
    assert "ingested 3,500 rows" in result.stdout
    assert f"report written to {out / 'index.html'}" in result.stdout.replace("\n", "")
    summary = json.loads((out / "summary.json").read_text())
    assert [s["symbol"] for s in summary["symbols"]] == [f"SYN00{i}" for i in range(1, 6)]
    assert all(s["bars"] == 700 for s in summary["symbols"])
    # Checked by the sentinel, then a walk-forward model trained and the last session scored.
    assert summary["outcomes"] == {"committed": 1}
    assert "events" in summary["quality"]
    oos = summary["signal"]["out_of_sample"]
    assert oos["dates"] > 100 and 0.3 < oos["hit_rate"] < 0.7
    assert len(summary["signal"]["latest_scores"]) == 5
    # Both models learn from the sessions before the split; both strategies trade after it.
    backtest = summary["backtest"]
    assert summary["signal"]["train_end"] == summary["regime"]["train_end"] == backtest["train_end"]
    assert backtest["train_end"] < backtest["trade_start"]
    strategy, held = backtest["runs"]["signal_regime"], backtest["runs"]["buy_and_hold"]
    assert strategy["signal_model"] == "demo-direction/1"
    assert strategy["regime_model"] == summary["regime"]["model"]
    assert strategy["warnings"] == [] and strategy["kpis"]["fills"] > 0
    assert held["signal_model"] is None and held["kpis"]["time_in_market"] > 0.95
    assert strategy["kpis"]["time_in_market"] < held["kpis"]["time_in_market"]
    forecast = summary["forecast"]
    assert forecast["backtest"] == strategy["id"]
    assert set(forecast["methods"]) == {"bootstrap", "quantile_regression"}
    for method in forecast["methods"].values():
        p5, p50, p95 = (method["kpis"]["cumulative_return"][p] for p in ("p5", "p50", "p95"))
        assert p5 < p50 < p95
        assert len(method["path_bands"]) == 5 and len(method["path_bands"][0]) == 60
    assert forecast["calibration"]["origins"] >= 5
    page = (out / "index.html").read_text()
    for image in ("equity.png", "drawdown.png", "regimes.png", "quality.png"):
        assert (out / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{image}"' in page
    assert strategy["id"] in page and "buy_and_hold" in page


def test_every_command_has_help() -> None:
    for command in ("up", "status", "ingest", "symbols", "bars", "demo"):
        result = cli(command, "--help", env=dict(os.environ))
        assert result.returncode == 0 and "usage: quantmesh" in result.stdout
    top = cli("--help", env=dict(os.environ))
    assert "QUANTMESH_ADDRESS" in top.stdout
