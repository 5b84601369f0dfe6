"""Fixtures shared by every test: the shared data folder, settings, a real server on a free port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from services import registry
from services.clients.mesh import MeshClient
from services.runtime.server import MeshServer
from services.runtime.settings import RuntimeSettings, load

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def unavailable(message: str) -> NoReturn:
    """Something a test needs is not installed here: skip saying why, but fail in CI, where
    everything must be installed and nothing may be skipped."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message} (CI is set, so this fails instead of skipping)")
    pytest.skip(message)


def require_shared_data() -> Path:
    """The real market data beside the checkout."""
    if not SHARED_DATA.is_dir():
        unavailable(f"real market data not found at {SHARED_DATA} (see DESIGN.md §10)")
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


def server_settings(folder: Path) -> RuntimeSettings:
    """Settings for a throwaway server: a free port on localhost, stores under `folder`/var.

    Service settings (QUANTMESH_<SERVICE>_*) still come from the environment when the services
    start, so a test sets them with monkeypatch before `serve`."""
    return load(
        RuntimeSettings,
        environ={},
        port=0,
        host="127.0.0.1",
        data_dir=folder / "var",
        shutdown_grace_s=1.0,
    )


@pytest.fixture
def settings(tmp_path: Path) -> RuntimeSettings:
    return server_settings(tmp_path)


@dataclass
class Served:
    """A running server and a mesh client connected to it."""

    server: MeshServer
    address: str
    mesh: MeshClient
    settings: RuntimeSettings


async def serve(settings: RuntimeSettings, services: list[str] | None = None) -> Served:
    server = registry.build_server(services or [], settings)
    port = await server.start()
    address = f"127.0.0.1:{port}"
    return Served(server, address, MeshClient(settings, address=address), settings)


async def shutdown(served: Served) -> None:
    await served.mesh.close()
    await served.server.stop(grace=0.5)


@pytest.fixture
async def served(settings: RuntimeSettings) -> AsyncIterator[Served]:
    running = await serve(settings)
    yield running
    await shutdown(running)
