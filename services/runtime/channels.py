"""The one channel factory: service config (deadlines, retries, round-robin), keepalive, message
limits, TLS/mTLS, and client tracing. Every client and every server calling downstream uses it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from grpc import aio

from services.runtime import telemetry
from services.runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class MethodPolicy:
    """How calls to one service's methods behave by default."""

    service: str
    #: Methods safe to retry on UNAVAILABLE (reads and idempotent writes).
    idempotent: tuple[str, ...] = ()
    #: Unary methods that get a deadline ceiling from the service config. Streams are left
    #: out on purpose: a subscription must not die at a default deadline.
    unary: tuple[str, ...] = ()


#: The service config's unary timeout is a ceiling, not only a default: gRPC uses the smaller of
#: it and the deadline a call sets. The typed clients give every call its deadline
#: (`QUANTMESH_DEFAULT_TIMEOUT_S` unless the caller passes `timeout=`), so the config only backs
#: up raw stubs on these channels and must let longer deliberate deadlines (a refit, a large
#: materialization) through.
UNARY_CEILING_S = 3600.0

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config(
    policies: Sequence[MethodPolicy], default_timeout_s: float, round_robin: bool
) -> str:
    """gRPC service config JSON: a deadline ceiling on unary methods, retries on idempotent ones."""
    groups: dict[tuple[bool, bool], list[dict[str, str]]] = {}
    for policy in policies:
        for method in dict.fromkeys(policy.unary + policy.idempotent):
            key = (method in policy.unary, method in policy.idempotent)
            groups.setdefault(key, []).append({"service": policy.service, "method": method})
    method_configs: list[dict[str, object]] = []
    for (timed, retried), names in groups.items():
        config: dict[str, object] = {"name": names}
        if timed:
            config["timeout"] = f"{default_timeout_s}s"
        if retried:
            config["retryPolicy"] = RETRY_POLICY
        method_configs.append(config)
    document: dict[str, object] = {"methodConfig": method_configs}
    if round_robin:
        document["loadBalancingConfig"] = [{"round_robin": {}}]
    return json.dumps(document)


def channel_options(
    settings: RuntimeSettings, policies: Sequence[MethodPolicy], target: str
) -> list[tuple[str, object]]:
    ms = 1000
    return [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * ms)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * ms)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 1),
        (
            "grpc.service_config",
            service_config(
                policies,
                max(settings.default_timeout_s, UNARY_CEILING_S),
                target.startswith("dns:"),
            ),
        ),
    ]


def _channel_credentials(settings: RuntimeSettings) -> grpc.ChannelCredentials | None:
    if settings.tls_ca is None:
        return None
    cert = settings.tls_client_cert.read_bytes() if settings.tls_client_cert else None
    key = settings.tls_client_key.read_bytes() if settings.tls_client_key else None
    return grpc.ssl_channel_credentials(
        root_certificates=settings.tls_ca.read_bytes(), private_key=key, certificate_chain=cert
    )


def create_channel(
    target: str,
    settings: RuntimeSettings,
    policies: Sequence[MethodPolicy] = (),
    extra_options: Mapping[str, object] | None = None,
) -> aio.Channel:
    """An aio channel to `target` with the mesh's defaults; TLS when `QUANTMESH_TLS_CA` is set."""
    options = channel_options(settings, policies, target)
    options += list((extra_options or {}).items())
    interceptors = telemetry.client_interceptors()
    credentials = _channel_credentials(settings)
    if credentials is None:
        return aio.insecure_channel(target, options=options, interceptors=interceptors)
    return aio.secure_channel(target, credentials, options=options, interceptors=interceptors)
