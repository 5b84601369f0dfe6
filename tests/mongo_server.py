"""Pytest fixtures for a real MongoDB server process (DESIGN §7, §9): never an in-process mock.

`mongo` starts one server per test module, `mongo_session` one per session, each on a free port
with its data in a temporary folder, and stops it afterwards. The program is mongod when on PATH,
else nx-27017; `QUANTMESH_MONGO_SERVER=mongod|nx-27017` forces one. Where neither exists the test
is skipped with the reason, and fails when `CI=true`. `mongo_db` gives each test a motor database
of its own (dropped afterwards) on the module's server.

Use them from a conftest: `from tests.mongo_server import mongo, mongo_db  # noqa: F401`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.runtime.mongo import MongoServer, ServerKind, find_server, motor_client
from tests.conftest import unavailable


def require_mongo_server() -> ServerKind:
    """The server kind to start: skipped when none is installed, failing where `CI=true`."""
    wanted = os.environ.get("QUANTMESH_MONGO_SERVER", "auto") or "auto"
    found = find_server(wanted)
    if found is not None:
        return found[0]
    unavailable(f"no MongoDB server program ({wanted}): install mongod or `pip install nx-27017`")


def start_server(data_path: Path) -> MongoServer:
    """A started server of the required kind with its data in `data_path`."""
    server = MongoServer(data_path, kind=require_mongo_server())
    server.start()
    return server


@pytest.fixture(scope="module")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A MongoDB server shared by the tests of one module."""
    server = start_server(tmp_path_factory.mktemp("mongo"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A MongoDB server shared by the whole session."""
    server = start_server(tmp_path_factory.mktemp("mongo-session"))
    yield server
    server.stop()


@pytest.fixture
async def mongo_db(mongo: MongoServer) -> AsyncIterator[Any]:
    """A fresh motor database on the module's server, dropped after the test."""
    if not mongo.running:  # a test may have stopped or killed it
        mongo.start()
    client = motor_client(mongo.uri, timeout_s=10.0)
    name = f"t{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        try:
            if mongo.running:
                await client.drop_database(name)
        finally:
            client.close()
