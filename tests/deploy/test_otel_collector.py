"""deploy/otel-collector.yaml is a complete collector config, and the collector runs it."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.conftest import DEPLOY
from tests.deploy.manifests import Manifests

CONFIG = DEPLOY / "otel-collector.yaml"
PIPELINES = ("traces", "metrics", "logs")


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_otlp_in_over_grpc_and_http() -> None:
    protocols = config()["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")


def test_every_pipeline_limits_memory_first_batches_and_exports_to_debug_and_otlp() -> None:
    c = config()
    assert "memory_limiter" in c["processors"] and "batch" in c["processors"]
    assert {"debug", "otlp"} <= set(c["exporters"])
    assert re.fullmatch(r"\$\{env:\w+\}", c["exporters"]["otlp"]["endpoint"])
    pipelines = c["service"]["pipelines"]
    assert set(pipelines) == set(PIPELINES)
    for name in PIPELINES:
        p = pipelines[name]
        assert p["receivers"] == ["otlp"], name
        assert p["processors"][0] == "memory_limiter", f"{name}: memory_limiter must run first"
        assert "batch" in p["processors"], name
        assert set(p["exporters"]) == {"debug", "otlp"}, name


def test_every_component_used_is_defined_and_every_one_defined_is_used() -> None:
    c = config()
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for pipeline in c["service"]["pipelines"].values():
        for kind in used:
            used[kind] |= set(pipeline.get(kind, []))
    for kind, names in used.items():
        assert names == set(c[kind]), kind
    assert set(c["service"].get("extensions", [])) == set(c.get("extensions", {}))


def test_the_component_mounts_this_file_and_sets_the_variables_it_reads(
    rendered: dict[str, Manifests],
) -> None:
    text = CONFIG.read_text()
    variables = set(re.findall(r"\$\{env:(\w+)\}", text))
    health_port = int(config()["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])
    for overlay, m in rendered.items():
        (w,) = [w for w in m.workloads() if w.name == "otel-collector"]
        (c,) = w.pod_spec["containers"]
        (flag,) = [a for a in c["args"] if a.startswith("--config=")]
        path = flag.removeprefix("--config=")
        mount = next(v for v in c["volumeMounts"] if path.startswith(v["mountPath"] + "/"))
        volume = next(v for v in w.pod_spec["volumes"] if v["name"] == mount["name"])
        cm = m.get("ConfigMap", volume["configMap"]["name"], w.namespace)
        assert cm is not None, overlay
        assert cm["data"][path.rsplit("/", 1)[1]] == text, f"{overlay}: mounted config differs"
        env = m.env(w, c)
        assert variables <= set(env), f"{overlay}: collector lacks {variables - set(env)}"
        ports = {p["containerPort"] for p in c["ports"]}
        assert {4317, 4318, health_port} <= ports, overlay
        for probe in ("readinessProbe", "livenessProbe"):
            port = c[probe]["httpGet"]["port"]
            named = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert named.get(port, port) == health_port, f"{overlay}: {probe} misses health_check"
