"""A client in another language: Node.js (@grpc/grpc-js + proto-loader + apache-arrow) against a
real `quantmesh up` process.

The driver starts the mesh on a free port, prepares data and a model with the Python typed
clients (three Dow stocks ingested through the quality gate, the default feature view
materialized, one small model trained), then runs `node tests/polyglot/client.mjs` and checks
its JSON: reflection lists every service, health is SERVING, GetBars chunks decode in JavaScript
to the rows they declare, errors carry their status and details, and Score / ScoreBatch (with
Arrow rows built in JavaScript) agree with the Python client.

Node is looked up on PATH. Without it the test is skipped locally and fails where `CI=true`;
the node packages come from the root package.json (`make setup` runs `npm install`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio

from services import registry
from services.clients.mesh import MeshClient
from services.clients.signal import wait_for_training
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.mongo import MongoServer
from services.runtime.ports import free_port
from services.runtime.server import OPERATIONS_SERVICE
from services.runtime.settings import RuntimeSettings, load
from services.signal.domain.requests import TrainRequest
from tests.conftest import ROOT, require_shared_data, unavailable
from tests.mongo_server import mongo  # noqa: F401

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

CLIENT = ROOT / "tests" / "polyglot" / "client.mjs"
QUANTMESH = str(Path(sys.executable).parent / "quantmesh")
SYMBOLS = ("JPM", "KO", "MSFT")
MODEL = "polyglot"
#: What `quantmesh up` serves: every registered service, operations, health and reflection.
SERVICES = {
    *(entry.full_name for entry in registry.SERVICES),
    OPERATIONS_SERVICE,
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
}


def require_node() -> str:
    """The node program and its packages: skipped locally without node, failing in CI."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not on PATH (the polyglot client needs Node.js 18 or later)")
    for package in ("@grpc/grpc-js", "@grpc/proto-loader", "apache-arrow"):
        if not (ROOT / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"node package {package} is not installed: run `make setup` (npm install)")
    return node


@dataclass
class Mesh:
    address: str
    mesh: MeshClient
    bars: pa.Table
    feature_version: str


async def wait_until_serving(mesh: MeshClient, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    while True:
        checks = [await mesh.health(name).check(timeout=1.0) for name in ("marketdata", "signal")]
        if all(check.status == "SERVING" for check in checks):
            return
        assert process.returncode is None, "quantmesh up exited before serving"
        assert time.monotonic() < deadline, f"mesh not serving: {checks}"
        await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(
    tmp_path_factory: pytest.TempPathFactory,
    mongo: MongoServer,  # noqa: F811
) -> AsyncIterator[Mesh]:
    require_node()  # before the expensive set-up
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    data_dir = tmp_path_factory.mktemp("polyglot") / "var"
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTMESH_", "OTEL_"))}
    environ |= {
        "QUANTMESH_DATA_DIR": str(data_dir),
        "QUANTMESH_MONGO_URI": mongo.uri,
        "QUANTMESH_SIGNAL_TRAIN_THREADS": "1",
        "QUANTMESH_SHUTDOWN_GRACE_S": "1",
    }
    log = data_dir.parent / "server.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            QUANTMESH, "up", "--host", "127.0.0.1", "--port", str(port),
            env=environ, stdout=log_file, stderr=log_file,
        )  # fmt: skip
    address = f"127.0.0.1:{port}"
    client = MeshClient(load(RuntimeSettings, environ={}, address=address), address=address)
    try:
        await wait_until_serving(client, process)
        await client.marketdata.ingest(bars, Frequency.DAILY, "dow30", timeout=300)
        view = await client.marketdata.materialize_features("default", Frequency.DAILY)
        operation = await client.signal.train(
            TrainRequest(MODEL, folds=2, params={"n_estimators": 30.0})
        )
        await wait_for_training(client.operations("signal"), operation, timeout=300)
        yield Mesh(address, client, bars, view.version)
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        await client.close()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def run_node(*args: str) -> dict[str, object]:
    node = require_node()
    process = await asyncio.create_subprocess_exec(
        node, str(CLIENT), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, f"node client failed:\n{stdout.decode()}\n{stderr.decode()}"
    result: dict[str, object] = json.loads(stdout)
    return result


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node_result(mesh: Mesh) -> dict[str, object]:
    return await run_node("--target", mesh.address, "--symbol", "MSFT", "--model", MODEL)


async def test_reflection_lists_every_service_and_health_is_serving(
    node_result: dict[str, object],
) -> None:
    reflection = node_result["reflection"]
    assert isinstance(reflection, dict)
    assert set(reflection["services"]) == SERVICES
    assert reflection["signal_descriptor_files"] >= 1
    health = node_result["health"]
    assert isinstance(health, dict)
    assert set(health) == {"", *(s for s in SERVICES if s.startswith("quantmesh."))}
    assert set(health.values()) == {"SERVING"}


async def test_bar_chunks_decode_in_javascript_to_the_rows_they_declare(
    mesh: Mesh, node_result: dict[str, object]
) -> None:
    bars = node_result["bars"]
    assert isinstance(bars, dict)
    msft = mesh.bars.filter(pc.equal(mesh.bars.column("symbol"), "MSFT"))
    assert bars["rows_decoded"] == bars["rows_declared"] == msft.num_rows
    assert bars["chunks"] > 1  # --max-rows-per-chunk 500
    assert bars["chunk_indexes"] == list(range(bars["chunks"]))
    assert bars["columns"][:7] == ["symbol", "time", "open", "high", "low", "close", "volume"]
    assert bars["time_type"] == "Timestamp<MICROSECOND, UTC>"
    assert bars["symbols"] == ["MSFT"]
    times = msft.column("time")
    assert bars["first_time"][:10] == pc.min(times).as_py().date().isoformat()
    assert bars["last_time"][:10] == pc.max(times).as_py().date().isoformat()


async def test_errors_reach_javascript_with_their_code_and_details(
    node_result: dict[str, object],
) -> None:
    assert node_result["not_found"] == {"code": "NOT_FOUND", "has_status_details": True}


async def test_scores_from_javascript_match_the_python_client(
    mesh: Mesh, node_result: dict[str, object]
) -> None:
    score = node_result["score"]
    assert isinstance(score, dict)
    python = await mesh.mesh.signal.score(MODEL, "MSFT")
    assert score["symbol"] == "MSFT" and score["model_name"] == MODEL
    assert score["model_version"] == python.model.version == 1
    assert score["feature_version"] == mesh.feature_version
    assert score["time"][:10] == python.time.date().isoformat()
    assert score["score"] == pytest.approx(python.score, abs=1e-12)


async def test_batch_scores_of_arrow_rows_built_in_javascript_match_the_python_client(
    mesh: Mesh, node_result: dict[str, object]
) -> None:
    batch = node_result["score_batch"]
    assert isinstance(batch, dict)
    assert batch["rows_sent"] == batch["rows_returned"] == batch["declared_rows"] == 20
    assert batch["same_order"] and batch["scores_in_unit_interval"]
    assert batch["columns"] == ["symbol", "time", "score"]
    assert batch["model_version"] == 1 and batch["feature_version"] == mesh.feature_version
    msft = mesh.bars.filter(pc.equal(mesh.bars.column("symbol"), "MSFT")).sort_by("time")
    keys = msft.select(["symbol", "time"]).slice(msft.num_rows - 25, 20)
    assert keys.column("time")[0].as_py().date().isoformat() == batch["first_time"][:10]
    python = await mesh.mesh.signal.score_batch(MODEL, keys)
    assert batch["scores"] == pytest.approx(python.column("score").to_pylist(), abs=1e-12)
