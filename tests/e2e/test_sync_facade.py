"""The synchronous facade the README shows, against a running mesh, as a notebook uses it."""

from __future__ import annotations

import subprocess

import pytest

from services.clients.sync import SyncMesh
from services.marketdata.domain.bar_table import Frequency
from services.runtime.errors import NotFound
from tests.bars import make_bars


def test_sync_calls_return_domain_values_and_raise_domain_errors(
    mesh_process: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, env = mesh_process
    with SyncMesh(address=env["QUANTMESH_ADDRESS"]) as mesh:
        report = mesh.marketdata.ingest(make_bars(("AAPL", "MSFT")), Frequency.DAILY)
        assert report.rows_inserted == 10
        bars = mesh.marketdata.get_bars(["AAPL", "MSFT"], Frequency.DAILY)
        assert bars.num_rows == 10
        chunks = mesh.marketdata.iter_bars(["AAPL"], max_rows_per_chunk=2)
        assert [c.num_rows for c in chunks] == [2, 2, 1]
        with pytest.raises(NotFound):
            mesh.marketdata.get_bars(["NOPE"])
