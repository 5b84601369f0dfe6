"""MongoDB for the services that keep documents: a server process to embed, and the motor client.

`QUANTMESH_MONGO_URI` points at a MongoDB server; left empty, `connect` starts one itself (the
embedded default of DESIGN §7): `mongod` when it is on PATH, else the pip package `nx-27017`, a
MongoDB-wire-protocol server on SQLite. `MongoServer` is also what test fixtures start: a real
process on a free localhost port with its data under a given folder, answered by `ping` before
`start` returns, stoppable and restartable on the same data and port.

nx-27017 keeps one SQLite file per logical database (`--data-dir`), so databases are isolated as
in MongoDB; its pid and log files live in the data folder, so several servers can run at once.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from services.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.runtime.ports import free_port
from services.runtime.settings import env


class ServerKind(StrEnum):
    """Which server program `MongoServer` runs; AUTO prefers mongod when it is on PATH."""

    AUTO = "auto"
    MONGOD = "mongod"
    NX_27017 = "nx-27017"


@dataclasses.dataclass(frozen=True)
class MongoSettings:
    """Where the MongoDB of a service lives."""

    uri: str = env(
        "QUANTMESH_MONGO_URI",
        "",
        "MongoDB connection string (e.g. `mongodb://mongo:27017`); empty starts an embedded "
        "server (mongod when on PATH, else nx-27017) with its data under the data folder.",
    )
    database: str = env("QUANTMESH_MONGO_DB", "quantmesh", "MongoDB database name.")
    server: str = env(
        "QUANTMESH_MONGO_SERVER",
        "auto",
        "Embedded server program: `auto` (mongod when on PATH, else nx-27017), `mongod` or "
        "`nx-27017`.",
    )
    data_path: Path | None = env(
        "QUANTMESH_MONGO_DATA",
        None,
        "Embedded server's data folder; default `$QUANTMESH_DATA_DIR/mongo`.",
    )
    timeout_s: float = env(
        "QUANTMESH_MONGO_TIMEOUT_S",
        20.0,
        "Time the embedded server gets to answer ping, and clients to select a server.",
    )


def find_server(kind: ServerKind | str = ServerKind.AUTO) -> tuple[ServerKind, list[str]] | None:
    """The server program to run, as (kind, argv prefix), or None when none is installed.

    nx-27017 is found on PATH, beside the running interpreter (a virtual environment that is not
    activated), or as an importable module.
    """
    kind = _kind(kind)
    if kind in (ServerKind.AUTO, ServerKind.MONGOD):
        mongod = shutil.which("mongod")
        if mongod:
            return ServerKind.MONGOD, [mongod]
        if kind is ServerKind.MONGOD:
            return None
    nx = shutil.which("nx-27017")
    if nx is None:
        beside = Path(sys.executable).parent / "nx-27017"
        nx = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    if nx:
        return ServerKind.NX_27017, [nx]
    if importlib.util.find_spec("nx_27017") is not None:
        return ServerKind.NX_27017, [sys.executable, "-m", "nx_27017.nx_27017"]
    return None


class MongoServer:
    """One MongoDB server process on localhost with its data in `data_path`."""

    def __init__(
        self,
        data_path: Path,
        *,
        kind: ServerKind | str = ServerKind.AUTO,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 20.0,
    ) -> None:
        found = find_server(kind)
        if found is None:
            raise FailedPrecondition(
                f"no MongoDB server program found (wanted {_kind(kind).value}): put mongod on "
                "PATH or `pip install nx-27017`",
                reason="MONGO_SERVER_MISSING",
                metadata={"kind": _kind(kind).value},
            )
        self.kind, self._argv = found
        self.data_path = Path(data_path)
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Connection string of the running server."""
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the process (a free port when none is fixed) and wait until it answers ping."""
        if self.running:
            return
        self.data_path.mkdir(parents=True, exist_ok=True)
        fixed = self.port != 0
        attempts = 1 if fixed else 3
        for attempt in range(attempts):
            if not fixed:
                self.port = free_port(self.host)
            try:
                self._spawn()
                self._wait_until_ready()
                break
            except Unavailable:
                self._terminate(graceful=False)
                if attempt == attempts - 1:
                    raise
        atexit.register(self.stop)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM, then SIGKILL after `timeout_s`)."""
        self._terminate(graceful=True, timeout_s=timeout_s)
        atexit.unregister(self.stop)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        self._terminate(graceful=False)
        atexit.unregister(self.stop)

    def restart(self) -> None:
        """Stop and start again on the same data and port."""
        self.stop()
        self.start()

    def __enter__(self) -> MongoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _command(self) -> list[str]:
        if self.kind is ServerKind.MONGOD:
            return [
                *self._argv,
                "--bind_ip",
                self.host,
                "--port",
                str(self.port),
                "--dbpath",
                str(self.data_path),
                "--nounixsocket",
                "--quiet",
            ]
        return [
            *self._argv,
            "--data-dir",
            str(self.data_path),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--pid-file",
            str(self.data_path / "nx-27017.pid"),
            "--log-file",
            str(self.data_path / "nx-27017.log"),
        ]

    def _spawn(self) -> None:
        # A pid file left by a killed run would make nx-27017 refuse to start (pids get reused).
        (self.data_path / "nx-27017.pid").unlink(missing_ok=True)
        with (self.data_path / "server.out").open("ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                preexec_fn=_die_with_parent,
            )

    def _wait_until_ready(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        deadline = time.monotonic() + self.startup_timeout_s
        client: MongoClient[Mapping[str, Any]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250, directConnection=True
        )
        try:
            while True:
                if self._process is None or self._process.poll() is not None:
                    raise Unavailable(
                        f"{self.kind.value} on port {self.port} exited during start-up: "
                        f"{self._log_tail()}",
                        metadata={"port": str(self.port)},
                    )
                try:
                    status = client.admin.command("serverStatus")
                except PyMongoError:
                    if time.monotonic() > deadline:
                        raise Unavailable(
                            f"{self.kind.value} on port {self.port} did not answer ping within "
                            f"{self.startup_timeout_s} s: {self._log_tail()}",
                            metadata={"port": str(self.port)},
                        ) from None
                    time.sleep(0.05)
                    continue
                if status.get("pid") not in (None, self._process.pid):
                    # Another server took the port between our probe and the start.
                    raise Unavailable(
                        f"port {self.port} is served by another process ({status.get('pid')})",
                        metadata={"port": str(self.port)},
                    )
                return
        finally:
            client.close()

    def _terminate(self, *, graceful: bool, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if graceful:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            else:
                process.kill()
                process.wait()

    def _log_tail(self, limit: int = 800) -> str:
        path = self.data_path / "server.out"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-limit:].strip() or "(no output)"


@dataclasses.dataclass
class MongoConnection:
    """A motor client on the configured server, and the embedded server when one was started."""

    client: Any  # motor.motor_asyncio.AsyncIOMotorClient
    database: Any  # motor.motor_asyncio.AsyncIOMotorDatabase
    server: MongoServer | None

    async def close(self) -> None:
        self.client.close()
        if self.server is not None:
            await _release_embedded(self.server)


def motor_client(uri: str, timeout_s: float = 20.0, **options: Any) -> Any:
    """An AsyncIOMotorClient with tz-aware datetimes (UTC) and bounded server selection."""
    if not uri.strip():
        raise InvalidArgument.for_field("uri", "is empty")
    from motor.motor_asyncio import AsyncIOMotorClient

    timeout_ms = int(timeout_s * 1000)
    kwargs: dict[str, Any] = {"tz_aware": True, "serverSelectionTimeoutMS": timeout_ms}
    kwargs.update(options)
    return AsyncIOMotorClient(uri, **kwargs)


async def connect(settings: MongoSettings, data_dir: Path) -> MongoConnection:
    """Connect to `settings.uri`, or start an embedded server under `data_dir/mongo` first.

    Pings the server before returning, so a wrong URI fails at start-up with Unavailable.
    """
    server: MongoServer | None = None
    uri = settings.uri.strip()
    if not uri:
        server = await _acquire_embedded(settings, data_dir)
        uri = server.uri
    client = motor_client(uri, settings.timeout_s)
    try:
        await client.admin.command("ping")
    except Exception as exc:
        client.close()
        if server is not None:
            await _release_embedded(server)
        raise Unavailable(f"MongoDB at {_redact(uri)} does not answer: {exc}") from None
    return MongoConnection(client, client[settings.database], server)


#: Embedded servers of this process by data folder, with their user counts: services hosted
#: in one process (signal, regime) share one server instead of fighting over its files.
_EMBEDDED: dict[Path, tuple[MongoServer, int]] = {}
_EMBEDDED_LOCK = threading.Lock()


def _acquire_embedded_sync(settings: MongoSettings, data_dir: Path) -> MongoServer:
    path = (settings.data_path or data_dir / "mongo").resolve()
    with _EMBEDDED_LOCK:
        found = _EMBEDDED.get(path)
        if found is not None and found[0].running:
            _EMBEDDED[path] = (found[0], found[1] + 1)
            return found[0]
        server = MongoServer(path, kind=settings.server, startup_timeout_s=settings.timeout_s)
        server.start()
        _EMBEDDED[path] = (server, 1)
        return server


def _release_embedded_sync(server: MongoServer) -> None:
    with _EMBEDDED_LOCK:
        path = server.data_path.resolve()
        found = _EMBEDDED.get(path)
        users = found[1] - 1 if found is not None and found[0] is server else 0
        if users > 0:
            _EMBEDDED[path] = (server, users)
            return
        _EMBEDDED.pop(path, None)
        server.stop()


async def _acquire_embedded(settings: MongoSettings, data_dir: Path) -> MongoServer:
    return await asyncio.to_thread(_acquire_embedded_sync, settings, data_dir)


async def _release_embedded(server: MongoServer) -> None:
    await asyncio.to_thread(_release_embedded_sync, server)


def _kind(kind: ServerKind | str) -> ServerKind:
    try:
        return ServerKind(kind)
    except ValueError:
        raise InvalidArgument.for_field(
            "server", f"{kind!r} is not one of {', '.join(k.value for k in ServerKind)}"
        ) from None


def _redact(uri: str) -> str:
    """The URI without a password."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return uri


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when the process that started it dies, so an
    embedded server never outlives a killed service or test run."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
