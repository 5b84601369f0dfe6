"""What every benchmark shares: paths, repeated timing, servers to measure against, reporting.

Benchmarks run on shared, noisy machines, so each one times its subject and an in-process
baseline in the same run, interleaved repetition by repetition, and reports the ratio of the two
(see docs/benchmarks.md). The last line a benchmark prints is `RESULT <name> <key>=<ratio>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services import registry
from services.clients.mesh import MeshClient
from services.runtime.ports import free_port
from services.runtime.settings import RuntimeSettings, load

#: How long a server gets to start answering health checks.
SERVER_START_TIMEOUT_S = 30.0
#: How long a server subprocess gets to stop after SIGTERM before it is killed.
SERVER_STOP_TIMEOUT_S = 15.0

#: One repetition of one path: named durations in seconds (a list gives several samples).
Sample = Mapping[str, float | Sequence[float]]
#: One path under test: runs one repetition and returns its durations.
Runner = Callable[[], Awaitable[Sample]]


def repo_root() -> Path:
    """The checkout's root: the nearest folder above this file holding pyproject.toml."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    sys.exit(f"error: no pyproject.toml above {here}; run the benchmark from a checkout")


def shared_data(override: Path | None = None) -> Path:
    """The shared market data folder (beside the checkout), or `override`; exits if absent."""
    folder = override if override is not None else repo_root().parent / "shared" / "data"
    if not folder.is_dir():
        how = "" if override is not None else "; pass --data DIR to point elsewhere"
        sys.exit(f"error: market data folder {folder} not found{how} (see ../shared/DESIGN.md §10)")
    return folder


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed:`; `elapsed()` is the seconds since entry (frozen at exit)."""
    start = time.perf_counter()
    end: float | None = None

    def elapsed() -> float:
        return (end if end is not None else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


async def measure(
    paths: Mapping[str, Runner], repeat: int, warmup: int = 1
) -> dict[str, dict[str, list[float]]]:
    """Run every path `warmup + repeat` times, interleaved, keeping the last `repeat` samples.

    Interleaving (A B C, A B C, ...) spreads a noisy neighbour's load over all paths alike.
    Returns path -> duration name -> samples.
    """
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in paths}
    for round_ in range(warmup + repeat):
        for name, run in paths.items():
            sample = await run()
            if round_ < warmup:
                continue
            for key, value in sample.items():
                values = [value] if isinstance(value, float | int) else list(value)
                samples[name].setdefault(key, []).extend(float(v) for v in values)
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB: of this process, or (RUSAGE_CHILDREN) its largest child."""
    kib = resource.getrusage(who).ru_maxrss  # KiB on Linux
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


def client_settings(address: str) -> RuntimeSettings:
    """Client settings independent of the caller's QUANTMESH_* environment."""
    return load(RuntimeSettings, environ={}, address=address)


@dataclass
class Served:
    """A running server (in this process or a subprocess) and a client connected to it.

    For a subprocess, `pid` is its process id and `peak_rss_mib` is filled in when it stops
    (Linux: VmHWM; None where unknown).
    """

    mesh: MeshClient
    address: str
    data_dir: Path
    pid: int | None = None
    peak_rss_mib: float | None = None


def process_peak_rss_mib(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a running process in MiB, where /proc has it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def _log_tail(log: Path, chars: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


async def _wait_until_serving(
    mesh: MeshClient, service: str, process: asyncio.subprocess.Process | None, log: Path | None
) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        health = await mesh.health(service).check(timeout=1.0)
        if health.status == "SERVING":
            return
        if process is not None and process.returncode is not None:
            tail = _log_tail(log) if log is not None else ""
            sys.exit(f"error: server exited with status {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            sys.exit(
                f"error: server at {mesh.address_for(service)} not serving after "
                f"{SERVER_START_TIMEOUT_S:.0f}s ({health.status} {health.detail})"
            )
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serve_inprocess(services: Sequence[str]) -> AsyncIterator[Served]:
    """`MeshServer` hosting `services` in this process, on a free port, over a fresh data dir."""
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as folder:
        data_dir = Path(folder) / "var"
        settings = load(
            RuntimeSettings,
            environ={},
            host="127.0.0.1",
            port=0,
            data_dir=data_dir,
            shutdown_grace_s=1.0,
        )
        server = registry.build_server(list(services), settings)
        port = await server.start()
        address = f"127.0.0.1:{port}"
        mesh = MeshClient(client_settings(address), address=address)
        try:
            await _wait_until_serving(mesh, services[0], None, None)
            yield Served(mesh, address, data_dir)
        finally:
            await mesh.close()
            await server.stop(grace=1.0)


def quantmesh_command() -> list[str]:
    """The `quantmesh` console script of this interpreter's environment (else `-m`)."""
    script = Path(sys.executable).parent / "quantmesh"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "services.cli.main"]


@contextlib.asynccontextmanager
async def serve_subprocess(
    services: Sequence[str], settings: Mapping[str, str] | None = None
) -> AsyncIterator[Served]:
    """`quantmesh up --service ... --port N` in a child process, over a fresh data dir.

    The child gets this environment minus QUANTMESH_* and OTEL_* variables (so a developer's
    shell settings do not leak in) plus `settings`, its own data dir, and its log in that folder.
    """
    with tempfile.TemporaryDirectory(prefix="quantmesh-bench-") as folder:
        data_dir = Path(folder) / "var"
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("QUANTMESH_", "OTEL_"))
        }
        environ |= {"QUANTMESH_DATA_DIR": str(data_dir), "QUANTMESH_SHUTDOWN_GRACE_S": "1"}
        environ |= dict(settings or {})
        port = free_port()
        command = [*quantmesh_command(), "up", "--host", "127.0.0.1", "--port", str(port)]
        for service in services:
            command += ["--service", service]
        log = Path(folder) / "server.log"
        with log.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *command,
                env=environ,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        address = f"127.0.0.1:{port}"
        mesh = MeshClient(client_settings(address), address=address)
        served = Served(mesh, address, data_dir, pid=process.pid)
        try:
            await _wait_until_serving(mesh, services[0], process, log)
            yield served
        finally:
            await mesh.close()
            if process.returncode is None:
                served.peak_rss_mib = process_peak_rss_mib(process.pid)
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), SERVER_STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()


ServeFactory = Callable[[Sequence[str]], contextlib.AbstractAsyncContextManager[Served]]


def rate(rows: int, seconds: float) -> str:
    """Rows per second, grouped ("1,234,567")."""
    return f"{rows / seconds:,.0f}" if seconds > 0 else "inf"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def result_line(name: str, key: str, value: float) -> str:
    """The last line every benchmark prints, parsed by tooling: `RESULT <name> <key>=<value>`."""
    return f"RESULT {name} {key}={value:.3f}"
