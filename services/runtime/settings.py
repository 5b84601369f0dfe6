"""Typed settings read from environment variables.

Each settings class is a frozen dataclass whose fields declare their environment variable and
help text in `field(metadata=...)` via `env(...)`. `load(cls)` reads them with type checking,
and `reference(cls)` renders the table that `--help` and the README show, so the documentation
cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable holds a value of the wrong type."""


def env(var: str, default: Any, help: str) -> Any:
    """Declare a settings field read from environment variable `var`."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples or a default_factory-free immutable default")
    return dataclasses.field(default=default, metadata={"env": var, "help": help})


def _parse(raw: str, kind: Any, var: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(kind) if a is not type(None)]
        return None if raw.strip() == "" else _parse(raw, inner[0], var)
    if origin is tuple:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{var}={raw!r}: expected true or false")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise SettingsError(f"{var}={raw!r}: expected {kind.__name__}") from None
    if kind is Path:
        return Path(raw).expanduser()
    return raw


def load(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build `cls` from environment variables; keyword overrides win over the environment."""
    environ = os.environ if environ is None else environ
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in overrides:
            values[f.name] = overrides[f.name]
        elif f.metadata.get("env") in environ:
            values[f.name] = _parse(environ[f.metadata["env"]], hints[f.name], f.metadata["env"])
    return cls(**values)


def reference(*classes: type[Any]) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field of the given settings classes."""
    rows: list[tuple[str, str, str]] = []
    for cls in classes:
        for f in dataclasses.fields(cls):
            default = f.default
            shown = "" if default in (None, "", ()) else str(default)
            rows.append((f.metadata["env"], shown, f.metadata["help"]))
    return rows


def reference_markdown(*classes: type[Any]) -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [
        f"| `{v}` | `{d}` | {h} |" if d else f"| `{v}` | | {h} |" for v, d, h in reference(*classes)
    ]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """Settings every quantmesh process shares: serving, limits, security, clients, logging."""

    host: str = env("QUANTMESH_HOST", "127.0.0.1", "Interface the server binds (0.0.0.0 in pods).")
    port: int = env("QUANTMESH_PORT", 50051, "Port the server listens on; 0 picks a free port.")
    address: str = env(
        "QUANTMESH_ADDRESS",
        "127.0.0.1:50051",
        "Where clients find the mesh. `QUANTMESH_<SERVICE>_ADDRESS` (e.g. "
        "`QUANTMESH_MARKETDATA_ADDRESS`) overrides it per service; `dns:///host:port` targets "
        "get client-side round-robin.",
    )
    data_dir: Path = env("QUANTMESH_DATA_DIR", Path("var"), "Folder for embedded stores.")
    max_message_bytes: int = env(
        "QUANTMESH_MAX_MESSAGE_BYTES", 32 * 1024 * 1024, "Largest gRPC message sent or received."
    )
    max_concurrent_rpcs: int = env(
        "QUANTMESH_MAX_CONCURRENT_RPCS", 1000, "RPCs served at once; more get RESOURCE_EXHAUSTED."
    )
    max_connection_age_s: float = env(
        "QUANTMESH_MAX_CONNECTION_AGE_S",
        300.0,
        "Server closes connections older than this, so clients spread over new pods.",
    )
    max_connection_age_grace_s: float = env(
        "QUANTMESH_MAX_CONNECTION_AGE_GRACE_S", 30.0, "Time in-flight calls get after that."
    )
    keepalive_time_s: float = env(
        "QUANTMESH_KEEPALIVE_TIME_S", 30.0, "Interval of keepalive pings (clients and server)."
    )
    keepalive_timeout_s: float = env(
        "QUANTMESH_KEEPALIVE_TIMEOUT_S", 10.0, "Time to wait for a keepalive ack."
    )
    shutdown_drain_s: float = env(
        "QUANTMESH_SHUTDOWN_DRAIN_S",
        0.0,
        "On SIGTERM: time health reports NOT_SERVING while "
        "calls are still served, so load balancers move away first (5 in pods).",
    )
    shutdown_grace_s: float = env(
        "QUANTMESH_SHUTDOWN_GRACE_S", 10.0, "On SIGTERM: time in-flight calls get to finish."
    )
    auth_tokens: tuple[str, ...] = env(
        "QUANTMESH_AUTH_TOKENS",
        (),
        "Server: `team=token` pairs, comma-separated; when set, every call except health and "
        "reflection needs `authorization: Bearer <token>`.",
    )
    auth_allow: tuple[str, ...] = env(
        "QUANTMESH_AUTH_ALLOW",
        (),
        "Server: `team=service1|service2` (or `team=*`) pairs; a team without an entry may call "
        "every hosted service.",
    )
    token: str = env("QUANTMESH_TOKEN", "", "Client: bearer token sent with every call.")
    tls_cert: Path | None = env("QUANTMESH_TLS_CERT", None, "Server: certificate chain (PEM).")
    tls_key: Path | None = env("QUANTMESH_TLS_KEY", None, "Server: private key (PEM).")
    tls_client_ca: Path | None = env(
        "QUANTMESH_TLS_CLIENT_CA",
        None,
        "Server: CA that client certificates must chain to (turns on mutual TLS).",
    )
    tls_ca: Path | None = env(
        "QUANTMESH_TLS_CA", None, "Client: CA to verify servers with (turns on TLS)."
    )
    tls_client_cert: Path | None = env(
        "QUANTMESH_TLS_CLIENT_CERT", None, "Client: certificate for mutual TLS."
    )
    tls_client_key: Path | None = env(
        "QUANTMESH_TLS_CLIENT_KEY", None, "Client: key for mutual TLS."
    )
    default_timeout_s: float = env(
        "QUANTMESH_DEFAULT_TIMEOUT_S", 30.0, "Client: deadline of a call that sets none."
    )
    malloc_mmap_threshold_mb: int = env(
        "QUANTMESH_MALLOC_MMAP_THRESHOLD_MB",
        32,
        "Server: blocks up to this size come from glibc's heap, not fresh mappings (at most 32; "
        "0 with the next leaves glibc's defaults). See services/runtime/memory.py.",
    )
    malloc_trim_threshold_mb: int = env(
        "QUANTMESH_MALLOC_TRIM_THRESHOLD_MB",
        128,
        "Server: freed heap kept for reuse before glibc returns it to the kernel.",
    )
    log_level: str = env("QUANTMESH_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.")
    log_format: str = env("QUANTMESH_LOG_FORMAT", "text", "`text` or `json` (one object a line).")
    otlp_endpoint: str = env(
        "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/gRPC collector; unset exports no spans."
    )
    trace_sample_ratio: float = env(
        "QUANTMESH_TRACE_SAMPLE_RATIO", 1.0, "Share of new traces sampled (parent-based)."
    )

    def team_tokens(self) -> dict[str, str]:
        """token -> team, from `auth_tokens`."""
        return {token: team for team, token in _pairs("QUANTMESH_AUTH_TOKENS", self.auth_tokens)}

    def team_allow(self) -> dict[str, frozenset[str]]:
        """team -> services it may call ("*" for all), from `auth_allow`."""
        return {
            team: frozenset(s.strip() for s in services.split("|") if s.strip())
            for team, services in _pairs("QUANTMESH_AUTH_ALLOW", self.auth_allow)
        }

    def address_for(self, service: str, environ: Mapping[str, str] | None = None) -> str:
        """The address clients use for `service`: its own variable, else QUANTMESH_ADDRESS."""
        environ = os.environ if environ is None else environ
        return environ.get(f"QUANTMESH_{service.upper()}_ADDRESS") or self.address


def _pairs(var: str, items: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(f"{var}: {item!r} is not a key=value pair")
        pairs.append((key.strip(), value.strip()))
    return pairs
