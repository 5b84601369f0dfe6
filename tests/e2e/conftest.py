"""A real `quantmesh up` process for end-to-end tests, and the CLI to talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.ports import free_port

QUANTMESH = str(Path(sys.executable).parent / "quantmesh")


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QUANTMESH, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def mesh_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "QUANTMESH_ADDRESS": f"127.0.0.1:{port}",
        "QUANTMESH_DATA_DIR": str(tmp_path / "var"),
        "QUANTMESH_SHUTDOWN_GRACE_S": "1",
    }
    process = subprocess.Popen(
        [QUANTMESH, "up", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while cli("status", env=env, timeout=30).returncode != 0:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "server did not become healthy"
        time.sleep(0.2)
    yield process, env
    if process.poll() is None:
        process.kill()
        process.wait()
