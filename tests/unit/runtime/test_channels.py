"""The channel factory's service config: deadlines on unary calls, retries on idempotent ones."""

from __future__ import annotations

import json

from services.clients import policies
from services.runtime.channels import MethodPolicy, service_config


def method_config(document: dict, service: str, method: str) -> dict:  # type: ignore[type-arg]
    for config in document["methodConfig"]:
        if {"service": service, "method": method} in config["name"]:
            return config  # type: ignore[no-any-return]
    return {}


def test_reads_are_retried_on_unavailable_only_and_writes_never() -> None:
    document = json.loads(service_config(policies.ALL, 30.0, round_robin=False))
    service = policies.MARKETDATA.service
    get_bars = method_config(document, service, "GetBars")
    assert get_bars["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert "timeout" not in get_bars  # a stream: no default deadline from the config
    assert method_config(document, service, "ListSymbols")["timeout"] == "30.0s"
    assert method_config(document, service, "IngestBars") == {}
    cancel = method_config(document, policies.OPERATIONS.service, "CancelOperation")
    assert "retryPolicy" not in cancel and cancel["timeout"] == "30.0s"


def test_round_robin_only_for_dns_targets() -> None:
    policy = [MethodPolicy("a.B", idempotent=("Get",), unary=("Get",))]
    assert "loadBalancingConfig" not in json.loads(service_config(policy, 5, round_robin=False))
    assert json.loads(service_config(policy, 5, round_robin=True))["loadBalancingConfig"] == [
        {"round_robin": {}}
    ]
