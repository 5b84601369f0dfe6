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


def test_demo_ingests_the_synthetic_market_and_writes_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = cli(
        "demo",
        "--out",
        str(out),
        "--symbols",
        "5",
        "--days",
        "400",
        env={**os.environ, "QUANTMESH_PORT": str(free_port())},
    )
    assert result.returncode == 0, result.stderr
    assert "ingested 2,000 rows" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [s["symbol"] for s in summary["symbols"]] == [f"SYN00{i}" for i in range(1, 6)]
    assert all(s["bars"] == 400 for s in summary["symbols"])
    # Checked by the sentinel, then a walk-forward model trained and the last session scored.
    assert summary["outcomes"] == {"committed": 1}
    assert "events" in summary["quality"]
    oos = summary["signal"]["out_of_sample"]
    assert oos["dates"] > 100 and 0.3 < oos["hit_rate"] < 0.7
    assert len(summary["signal"]["latest_scores"]) == 5


def test_every_command_has_help() -> None:
    for command in ("up", "status", "ingest", "symbols", "bars", "demo"):
        result = cli(command, "--help", env=dict(os.environ))
        assert result.returncode == 0 and "usage: quantmesh" in result.stdout
    top = cli("--help", env=dict(os.environ))
    assert "QUANTMESH_ADDRESS" in top.stdout
