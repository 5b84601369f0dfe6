"""A real MongoDB server process for services and tests: start, ping, stop, restart, connect."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from services.runtime.errors import InvalidArgument, Unavailable
from services.runtime.mongo import (
    MongoServer,
    MongoSettings,
    ServerKind,
    _redact,
    connect,
    find_server,
)
from services.runtime.ports import free_port
from services.runtime.settings import load
from tests.mongo_server import require_mongo_server


def _count(uri: str, collection: str) -> int:
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        return client.qm[collection].count_documents({})


def test_a_server_starts_on_a_free_port_keeps_its_data_over_a_restart(tmp_path: Path) -> None:
    server = MongoServer(tmp_path / "db", kind=require_mongo_server())
    server.start()
    try:
        port = server.port
        assert port > 0 and server.running
        with MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client:
            client.qm.things.insert_many([{"n": 1}, {"n": 2}])
        server.restart()
        assert server.port == port and server.running
        assert _count(server.uri, "things") == 2
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(PyMongoError), MongoClient(server.uri, serverSelectionTimeoutMS=300) as c:
        c.admin.command("ping")


def test_a_killed_server_starts_again_on_its_data(tmp_path: Path) -> None:
    with MongoServer(tmp_path / "db", kind=require_mongo_server()) as server:
        with MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client:
            client.qm.things.insert_one({"n": 1})
        pid = server.pid
        server.kill()
        assert not server.running
        server.start()
        assert server.pid != pid
        assert _count(server.uri, "things") == 1


def test_two_servers_run_side_by_side_with_separate_data(tmp_path: Path) -> None:
    kind = require_mongo_server()
    with MongoServer(tmp_path / "a", kind=kind) as a, MongoServer(tmp_path / "b", kind=kind) as b:
        assert a.port != b.port
        with MongoClient(a.uri, serverSelectionTimeoutMS=5000) as client:
            client.qm.things.insert_one({"n": 1})
        assert _count(b.uri, "things") == 0


def test_databases_on_one_server_are_isolated(tmp_path: Path) -> None:
    with (
        MongoServer(tmp_path / "db", kind=require_mongo_server()) as server,
        MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client,
    ):
        client.one.things.insert_one({"n": 1})
        assert client.two.things.count_documents({}) == 0


def test_find_server_prefers_mongod_and_falls_back_to_nx_27017() -> None:
    found = find_server("auto")
    assert found is not None
    kind, argv = found
    if kind is ServerKind.NX_27017:
        assert find_server("mongod") is None
    assert argv
    with pytest.raises(InvalidArgument):
        find_server("postgres")


def test_a_server_that_cannot_start_reports_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MongoServer(
            tmp_path / "db", kind=require_mongo_server(), port=port, startup_timeout_s=10
        )
        with pytest.raises(Unavailable) as caught:
            server.start()
    assert str(port) in caught.value.message and not server.running


def test_settings_come_from_the_environment() -> None:
    settings = load(
        MongoSettings,
        environ={
            "QUANTMESH_MONGO_URI": "mongodb://db:27017",
            "QUANTMESH_MONGO_DB": "research",
            "QUANTMESH_MONGO_SERVER": "nx-27017",
            "QUANTMESH_MONGO_TIMEOUT_S": "3.5",
        },
    )
    assert (settings.uri, settings.database, settings.server, settings.timeout_s) == (
        "mongodb://db:27017",
        "research",
        "nx-27017",
        3.5,
    )
    assert load(MongoSettings, environ={}).uri == ""


async def test_connect_starts_an_embedded_server_when_no_uri_is_set(tmp_path: Path) -> None:
    kind = require_mongo_server()
    settings = load(MongoSettings, environ={}, server=kind.value, database="qm")
    connection = await connect(settings, tmp_path)
    try:
        assert connection.server is not None and connection.server.running
        assert connection.server.data_path == tmp_path / "mongo"
        await connection.database.things.insert_one({"n": 1})
        assert await connection.database.things.count_documents({}) == 1
    finally:
        await connection.close()
    assert not connection.server.running


async def test_connect_uses_the_uri_and_starts_nothing(tmp_path: Path) -> None:
    with MongoServer(tmp_path / "db", kind=require_mongo_server()) as server:
        settings = load(MongoSettings, environ={}, uri=server.uri, database="qm")
        connection = await connect(settings, tmp_path)
        try:
            assert connection.server is None
            await connection.database.things.insert_one({"n": 1})
        finally:
            await connection.close()
        assert server.running
        assert _count(server.uri, "things") == 1


async def test_connect_to_a_server_nobody_runs_is_unavailable(tmp_path: Path) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/"
    settings = load(MongoSettings, environ={}, uri=uri, timeout_s=0.5)
    with pytest.raises(Unavailable):
        await connect(settings, tmp_path)


def test_passwords_never_reach_error_messages() -> None:
    assert _redact("mongodb://user:secret@db:27017/x") == "mongodb://user:***@db:27017/x"
    assert _redact("mongodb://db:27017") == "mongodb://db:27017"


def test_ci_fails_instead_of_skipping_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("QUANTMESH_MONGO_SERVER", "mongod")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_mongo_server()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_mongo_server()
    assert os.environ["QUANTMESH_MONGO_SERVER"] == "mongod"


def test_a_port_held_by_another_server_is_refused_not_mistaken(tmp_path: Path) -> None:
    kind = require_mongo_server()
    with MongoServer(tmp_path / "a", kind=kind) as first:
        second = MongoServer(tmp_path / "b", kind=kind, port=first.port, startup_timeout_s=10)
        with pytest.raises(Unavailable):
            second.start()
        assert not second.running and first.running
