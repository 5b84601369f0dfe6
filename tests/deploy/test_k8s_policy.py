"""What every overlay must hold (DESIGN §6), checked on the rendered manifests.

For every quantmesh service Deployment: native gRPC readiness and liveness probes and a startup
probe, requests and limits, a restrictive securityContext, a PodDisruptionBudget, an HPA, a
headless Service, its own ServiceAccount, settings the code knows, and a grace period that covers
the server's shutdown. For the network: every pod isolated, and the connections the
NetworkPolicies allow equal the data flow of deploy/k8s/dataflow.yaml, no more, no less; the peer
addresses and (in team overlays) the team permissions follow the same table.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest

from services.runtime.settings import SettingsError, load
from tests.deploy.conftest import OVERLAYS, ROOT
from tests.deploy.manifests import CLUSTER_SCOPED, Manifests, Workload, quantity
from tests.deploy.netpol import Cluster, Endpoint, Port, selector_matches

TEAM_OVERLAYS = [o for o in OVERLAYS if o.startswith("team-")]
#: Secrets the manifests reference but never contain (created per namespace; deploy/README.md).
REFERENCED_SECRETS = {"quantmesh-team-tokens", "mongodb-auth", "postgres-auth", "quality-webhooks"}
#: The longest a service may take to open its stores and load models before the startup probe
#: gives up, at least.
MIN_STARTUP_S = 120
SENSITIVE = re.compile(r"TOKEN|PASSWORD|SECRET|MONGO_URI")


def fail_if(problems: Iterable[str]) -> None:
    problems = list(problems)
    assert not problems, "\n".join(problems)


def registered_full_names() -> dict[str, str]:
    """Short name -> protobuf service, for the services the registry knows today."""
    from services import registry

    return {s.name: s.full_name for s in registry.SERVICES}


def settings_classes() -> list[type]:
    """Every settings class of the code: the shared ones and each service's (services/*/app.py)."""
    from services.runtime.mongo import MongoSettings
    from services.runtime.settings import RuntimeSettings

    found: list[type] = [RuntimeSettings, MongoSettings]
    for package in sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py")):
        module = importlib.import_module(f"services.{package}.app")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and dataclasses.fields(value)
                and all("env" in f.metadata for f in dataclasses.fields(value))
            ):
                found.append(value)
    return found


def setting_names(classes: list[type]) -> set[str]:
    return {f.metadata["env"] for cls in classes for f in dataclasses.fields(cls)}


def namespace_of(flow: dict[str, Any], overlay: str) -> str:
    ns: str = flow["overlays"][overlay]["namespace"]
    return ns


def container(workload: Workload) -> dict[str, Any]:
    """The quantmesh container of a service's pod."""
    (only,) = [c for c in workload.pod_spec["containers"] if c["name"] == "quantmesh"]
    return only


def grpc_port(workload: Workload) -> int:
    args = container(workload)["args"]
    port: int = int(args[args.index("--port") + 1])
    return port


def hpa_for(m: Manifests, w: Workload) -> dict[str, Any] | None:
    for hpa in m.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if (
            hpa["metadata"].get("namespace") == w.namespace
            and target["kind"] == w.kind
            and target["name"] == w.name
        ):
            return hpa
    return None


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return bool(selector) and selector_matches(selector, labels)


# ---------------------------------------------------------------------------------------------
# What each overlay runs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_runs_its_teams_workloads_in_its_namespace(
    overlay: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    m = rendered[overlay]
    teams = set(dataflow["overlays"][overlay]["teams"])
    ns = namespace_of(dataflow, overlay)
    expected = {
        name
        for name, spec in dataflow["workloads"].items()
        if not spec.get("planned") and (spec["team"] in teams or spec["team"] == "every")
    }
    assert {w.name for w in m.workloads()} == expected
    assert {w.name for w in m.services()} == {
        n for n in expected if dataflow["workloads"][n]["kind"] == "service"
    }
    namespace = m.get("Namespace", ns, None)
    assert namespace is not None, f"{overlay} does not create its namespace {ns}"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    fail_if(
        f"{o['kind']}/{o['metadata']['name']} is in namespace {o['metadata'].get('namespace')}"
        for o in m
        if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != ns
    )


# ---------------------------------------------------------------------------------------------
# Every quantmesh service Deployment


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_have_grpc_readiness_liveness_and_startup_probes(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    known = registered_full_names()
    problems = []
    for w in rendered[overlay].services():
        c = container(w)
        port = grpc_port(w)
        args = c["args"]
        if args[args.index("--service") + 1] != w.name:
            problems.append(f"{w.name}: serves {args} instead of --service {w.name}")
        if {"name": "grpc", "containerPort": port, "protocol": "TCP"} not in c["ports"]:
            problems.append(f"{w.name}: no container port named grpc = {port}")
        full_name = known.get(w.name)
        pattern = (
            re.escape(full_name) if full_name else rf"quantmesh\.{w.name}\.v1\.[A-Z]\w*Service"
        )
        for probe_kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(probe_kind)
            if not probe or "grpc" not in probe:
                problems.append(f"{w.name}: no native gRPC {probe_kind}")
                continue
            if probe["grpc"]["port"] != port:
                problems.append(f"{w.name}: {probe_kind} checks port {probe['grpc']['port']}")
            service = probe["grpc"].get("service", "")
            # Liveness may ask for the whole server (""); readiness and startup for the service.
            if not (
                re.fullmatch(pattern, service) or (probe_kind == "livenessProbe" and service == "")
            ):
                problems.append(f"{w.name}: {probe_kind} asks for health of {service!r}")
        startup = c.get("startupProbe", {})
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        if budget < MIN_STARTUP_S:
            problems.append(f"{w.name}: startup probe gives up after {budget}s (< {MIN_STARTUP_S})")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_requests_and_limits_cpu_and_memory(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    problems = []
    for w in rendered[overlay].workloads():
        for c in w.containers:
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        problems.append(f"{w.name}/{c['name']}: no {kind}.{resource}")
            for resource, limit in resources.get("limits", {}).items():
                request = resources.get("requests", {}).get(resource)
                if request is not None and quantity(request) > quantity(limit):
                    problems.append(f"{w.name}/{c['name']}: {resource} request above its limit")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_non_root_read_only_without_privileges(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    problems = []
    for w in rendered[overlay].workloads():
        pod = w.pod_spec
        pod_sc = pod.get("securityContext", {})
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(flag):
                problems.append(f"{w.name}: {flag}")
        if any("hostPath" in v for v in pod.get("volumes", [])):
            problems.append(f"{w.name}: hostPath volume")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{w.name}: pod mounts a service account token")
        mounts_tmp = False
        for c in w.containers:
            sc = {**pod_sc, **c.get("securityContext", {})}
            where = f"{w.name}/{c['name']}"
            if sc.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if not isinstance(sc.get("runAsUser"), int) or sc["runAsUser"] <= 0:
                problems.append(f"{where}: runAsUser is not a numeric non-root UID")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem is writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = sc.get("capabilities", {})
            if caps.get("drop") != ["ALL"] or caps.get("add"):
                problems.append(f"{where}: capabilities are not exactly drop [ALL]")
            if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            mounts_tmp |= any(v["mountPath"] == "/tmp" for v in c.get("volumeMounts", []))
        if w.is_quantmesh_service and not mounts_tmp:
            problems.append(f"{w.name}: no writable /tmp")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_with_a_duckdb_store_keep_it_on_their_own_volume_with_one_writer(
    overlay: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    m = rendered[overlay]
    problems = []
    for w in m.services():
        c = container(w)
        data_dir = m.env_value(w, c, "QUANTMESH_DATA_DIR")
        mounts = {v["mountPath"]: v["name"] for v in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in w.pod_spec.get("volumes", [])}
        volume = volumes.get(mounts.get(data_dir or "", ""), {})
        tmp = volumes.get(mounts.get("/tmp", ""), {})
        if "emptyDir" not in tmp:
            problems.append(f"{w.name}: /tmp is not an emptyDir")
        hpa = hpa_for(m, w) or {"spec": {}}
        if dataflow["workloads"][w.name].get("store") == "duckdb":
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            pvc = m.get("PersistentVolumeClaim", claim, w.namespace) if claim else None
            if pvc is None:
                problems.append(f"{w.name}: data dir {data_dir} is not on a rendered PVC")
            elif pvc["spec"]["accessModes"] != ["ReadWriteOnce"]:
                problems.append(f"{w.name}: its PVC is not ReadWriteOnce")
            if w.obj["spec"].get("replicas") != 1 or hpa["spec"].get("maxReplicas") != 1:
                problems.append(f"{w.name}: a DuckDB store has one writer: one replica, HPA max 1")
            if w.obj["spec"].get("strategy", {}).get("type") != "Recreate":
                problems.append(f"{w.name}: rollouts must Recreate (one writer on the volume)")
        else:
            if "emptyDir" not in volume:
                problems.append(f"{w.name}: data dir {data_dir} should be scratch (emptyDir)")
            if hpa["spec"].get("maxReplicas", 0) < 2:
                problems.append(f"{w.name}: stateless, so its HPA should be able to scale out")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_headless_service_hpa_pdb_and_its_own_service_account(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    m = rendered[overlay]
    problems = []
    for w in m.services():
        labels = w.pod_labels
        port = grpc_port(w)
        svc = m.get("Service", w.name, w.namespace)
        if svc is None:
            problems.append(f"{w.name}: no Service named {w.name}")
        else:
            spec = svc["spec"]
            if spec.get("clusterIP") != "None":
                problems.append(f"{w.name}: Service is not headless (clusterIP: None)")
            if not selects({"matchLabels": spec.get("selector", {})}, labels):
                problems.append(f"{w.name}: Service does not select its pods")
            ports = [(p.get("name"), p["port"]) for p in spec["ports"]]
            if ("grpc", port) not in ports:
                problems.append(f"{w.name}: Service has no port named grpc = {port}")
        hpa = hpa_for(m, w)
        if hpa is None or hpa["apiVersion"] != "autoscaling/v2":
            problems.append(f"{w.name}: no autoscaling/v2 HorizontalPodAutoscaler")
        elif not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
            problems.append(f"{w.name}: HPA bounds are inconsistent")
        pdbs = [
            p
            for p in m.of_kind("PodDisruptionBudget")
            if p["metadata"].get("namespace") == w.namespace
            and selects(p["spec"]["selector"], labels)
        ]
        if len(pdbs) != 1:
            problems.append(f"{w.name}: {len(pdbs)} PodDisruptionBudgets select it (want 1)")
        else:
            spec = pdbs[0]["spec"]
            most = (hpa or {"spec": {}})["spec"].get(
                "maxReplicas", w.obj["spec"].get("replicas", 1)
            )
            if "minAvailable" in spec and int(spec["minAvailable"]) >= most:
                problems.append(f"{w.name}: its PDB would block every eviction")
        account = w.pod_spec.get("serviceAccountName")
        sa = m.get("ServiceAccount", account, w.namespace) if account else None
        if account != w.name or sa is None:
            problems.append(f"{w.name}: does not run as its own rendered ServiceAccount")
        elif sa.get("automountServiceAccountToken") is not False:
            problems.append(f"{w.name}: ServiceAccount automounts its token")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_termination_grace_period_covers_the_servers_drain_and_grace(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    m = rendered[overlay]
    problems = []
    for w in m.services():
        c = container(w)
        drain = float(m.env_value(w, c, "QUANTMESH_SHUTDOWN_DRAIN_S") or 0.0)
        grace = float(m.env_value(w, c, "QUANTMESH_SHUTDOWN_GRACE_S") or 10.0)
        period = w.pod_spec.get("terminationGracePeriodSeconds", 30)
        if drain < 1:
            problems.append(f"{w.name}: no drain, so load balancers keep sending during shutdown")
        # The server drains, waits `grace` (+1 s for streams to end), then closes its stores.
        if period < drain + grace + 5:
            problems.append(
                f"{w.name}: terminationGracePeriodSeconds {period} < drain {drain} + grace "
                f"{grace} + 5 s to close the stores"
            )
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_settings_are_ones_the_code_reads_with_valid_values(
    overlay: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    m = rendered[overlay]
    classes = settings_classes()
    known = setting_names(classes)
    addresses = {f"QUANTMESH_{name.upper()}_ADDRESS" for name in dataflow["workloads"]}
    problems = []
    for w in m.services():
        c = container(w)
        env = m.env(w, c)
        literal = {k: v for k, v in env.items() if isinstance(v, str)}
        for name in env:
            if name.startswith("QUANTMESH_") and name not in known | addresses:
                problems.append(f"{w.name}: {name} is not a setting the code reads")
        for cls in classes:
            try:
                load(cls, environ=literal)
            except (SettingsError, TypeError, ValueError) as exc:
                problems.append(f"{w.name}: {exc}")
        if literal.get("QUANTMESH_HOST") != "0.0.0.0":
            problems.append(f"{w.name}: QUANTMESH_HOST must be 0.0.0.0 in a pod")
        if literal.get("QUANTMESH_PORT", "50051") != str(grpc_port(w)):
            problems.append(f"{w.name}: QUANTMESH_PORT differs from --port")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_committed(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    m = rendered[overlay]
    problems = [f"Secret/{s['metadata']['name']} is in the manifests" for s in m.of_kind("Secret")]
    for w in m.workloads():
        for c in w.containers:
            for name, value in m.env(w, c).items():
                if isinstance(value, dict) and "secretKeyRef" in value:
                    secret = value["secretKeyRef"]["name"]
                    if secret not in REFERENCED_SECRETS:
                        problems.append(f"{w.name}: {name} from undocumented Secret {secret}")
                elif SENSITIVE.search(name) and value not in ("", None):
                    problems.append(f"{w.name}: {name} has a literal value; use a secretKeyRef")
    for cm in m.of_kind("ConfigMap"):
        for key in cm.get("data", {}):
            if SENSITIVE.search(key.upper()):
                problems.append(f"ConfigMap/{cm['metadata']['name']}: {key} belongs in a Secret")
    fail_if(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(overlay: str, rendered: dict[str, Manifests]) -> None:
    problems = []
    for w in rendered[overlay].workloads():
        for c in w.containers:
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and (not tag or tag == "latest"):
                problems.append(f"{w.name}/{c['name']}: image {image} has no fixed tag")
    fail_if(problems)


def _pods_at_most(m: Manifests, w: Workload) -> int:
    """Pods of a workload at its HPA maximum, plus the surge pod of a rolling update."""
    hpa = hpa_for(m, w)
    replicas = hpa["spec"]["maxReplicas"] if hpa else w.obj["spec"].get("replicas", 1)
    if w.kind != "Deployment":
        return int(replicas)
    strategy = w.obj["spec"].get("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "Recreate":
        return int(replicas)
    surge = strategy.get("rollingUpdate", {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        surge = math.ceil(replicas * int(surge[:-1]) / 100)
    return int(replicas) + int(surge)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_resource_quota_fits_every_workload_at_its_maximum(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    m = rendered[overlay]
    (quota,) = m.of_kind("ResourceQuota")
    (limit_range,) = m.of_kind("LimitRange")
    hard = {k: quantity(v) for k, v in quota["spec"]["hard"].items()}
    (container_limits,) = [x for x in limit_range["spec"]["limits"] if x["type"] == "Container"]
    most = {k: quantity(v) for k, v in container_limits.get("max", {}).items()}
    totals: dict[str, Decimal] = {}
    pvcs = Decimal(len(m.of_kind("PersistentVolumeClaim")))
    storage = sum(
        (
            quantity(p["spec"]["resources"]["requests"]["storage"])
            for p in m.of_kind("PersistentVolumeClaim")
        ),
        Decimal(0),
    )
    pods = Decimal(0)
    problems = []
    for w in m.workloads():
        n = _pods_at_most(m, w)
        pods += n
        for c in w.containers:
            for kind in ("requests", "limits"):
                for resource, value in c["resources"].get(kind, {}).items():
                    key = f"{kind}.{resource}"
                    totals[key] = totals.get(key, Decimal(0)) + quantity(value) * n
            for resource, value in c["resources"].get("limits", {}).items():
                if resource in most and quantity(value) > most[resource]:
                    problems.append(f"{w.name}/{c['name']}: {resource} limit above LimitRange max")
        for template in w.obj["spec"].get("volumeClaimTemplates", []):
            pvcs += n
            storage += quantity(template["spec"]["resources"]["requests"]["storage"]) * n
    totals |= {"requests.storage": storage, "persistentvolumeclaims": pvcs, "pods": pods}
    bounded = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
    for key in dict.fromkeys([*bounded, *totals]):
        if key not in hard and key in bounded:
            problems.append(f"the quota does not bound {key}")
        elif key in hard and totals.get(key, Decimal(0)) > hard[key]:
            problems.append(f"{key}: workloads need up to {totals[key]}, quota {hard[key]}")
    fail_if(problems)


# ---------------------------------------------------------------------------------------------
# Network policies against the data flow

OUTSIDE = "elsewhere"  # a namespace of strangers, including pods that copy our labels
INTERNET = Endpoint("internet", None, ip="203.0.113.10")
KUBE_DNS = Endpoint(
    "kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (Port(53, "UDP"), Port(53, "TCP"))
)


def _endpoint(w: Workload) -> Endpoint:
    ports = tuple(
        Port(p["containerPort"], p.get("protocol", "TCP"), p.get("name"))
        for c in w.pod_spec["containers"]
        for p in c.get("ports", [])
    )
    return Endpoint(w.name, w.namespace, w.pod_labels, ports)


class View:
    """Overlays deployed together in one cluster, with strangers around them."""

    def __init__(self, flow: dict[str, Any], rendered: dict[str, Manifests], overlays: list[str]):
        self.flow = flow
        self.manifests = Manifests(o for name in overlays for o in rendered[name])
        namespaces = self.manifests.namespaces()
        self.members = [_endpoint(w) for w in self.manifests.workloads()]
        for name, spec in flow["workloads"].items():
            if not spec.get("planned"):
                continue
            for overlay in overlays:
                if spec["team"] in flow["overlays"][overlay]["teams"]:
                    labels = {
                        "app.kubernetes.io/name": name,
                        "app.kubernetes.io/part-of": "quantmesh",
                        "app.kubernetes.io/component": "grpc-service",
                    }
                    ports = tuple(Port(p, "TCP", "grpc") for p in spec["ports"])
                    self.members.append(Endpoint(name, namespace_of(flow, overlay), labels, ports))
        every_port = {p for e in self.members for p in e.ports} | {Port(80), Port(443)}
        every_port |= {Port(p) for ports in flow["external"].values() for p in ports}
        self.strangers = [
            Endpoint("stranger", ns, {"app.kubernetes.io/name": "stranger"}, tuple(every_port))
            for ns in [*namespaces, OUTSIDE]
        ] + [Endpoint(e.name, OUTSIDE, e.labels, e.ports) for e in self.members]
        self.internet = Endpoint(
            INTERNET.name, None, ip=INTERNET.ip, ports=tuple(sorted(every_port, key=repr))
        )
        self.cluster = Cluster(
            {**namespaces, "kube-system": {}, OUTSIDE: {}},
            self.manifests.of_kind("NetworkPolicy"),
        )

    def expected_calls(self) -> dict[tuple[Any, Any], set[tuple[int, str]]]:
        workloads, calls = self.flow["workloads"], self.flow["calls"]
        expected = {}
        for src in self.members:
            for callee in calls.get(src.name, []):
                for dst in self.members:
                    same_ns = src.namespace == dst.namespace
                    if dst.name == callee and (workloads[callee]["team"] != "every" or same_ns):
                        ports = {(p, "TCP") for p in workloads[callee]["ports"]}
                        expected[(src.key, dst.key)] = ports
        return expected

    def expected_egress(self) -> dict[tuple[Any, Any], set[tuple[int, str]]]:
        expected = self.expected_calls()
        for src in self.members:
            expected[(src.key, KUBE_DNS.key)] = {(53, "UDP"), (53, "TCP")}
            if src.name in self.flow["external"]:
                ports = {(p, "TCP") for p in self.flow["external"][src.name]}
                expected[(src.key, self.internet.key)] = ports
        return expected

    def allowed(
        self, sources: list[Endpoint], targets: list[Endpoint], direction: str
    ) -> dict[tuple[Any, Any], set[tuple[int, str]]]:
        check = (
            self.cluster.allows_ingress if direction == "ingress" else self.cluster.allows_egress
        )
        found = {}
        for src in sources:
            for dst in targets:
                ports = {(p.number, p.protocol) for p in dst.ports if check(src, dst, p)}
                if ports:
                    found[(src.key, dst.key)] = ports
        return found


def _describe(edges: dict[tuple[Any, Any], set[tuple[int, str]]]) -> list[str]:
    def where(key: tuple[str, str | None]) -> str:
        return key[0] if key[1] is None else f"{key[0]}@{key[1]}"

    return sorted(f"  {where(s)} -> {where(d)} {sorted(p)}" for (s, d), p in edges.items())


def _compare(found: dict[Any, set[Any]], expected: dict[Any, set[Any]], what: str) -> None:
    extra = {k: v - expected.get(k, set()) for k, v in found.items()}
    missing = {k: v - found.get(k, set()) for k, v in expected.items()}
    extra = {k: v for k, v in extra.items() if v}
    missing = {k: v for k, v in missing.items() if v}
    lines = []
    if extra:
        lines += [f"{what} allowed beyond deploy/k8s/dataflow.yaml:", *_describe(extra)]
    if missing:
        lines += [f"{what} in deploy/k8s/dataflow.yaml but blocked:", *_describe(missing)]
    fail_if(lines)


VIEWS = {"dev": ["dev"], "teams": TEAM_OVERLAYS}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_isolated_for_ingress_and_egress(
    overlay: str, rendered: dict[str, Manifests]
) -> None:
    m = rendered[overlay]
    cluster = Cluster(m.namespaces(), m.of_kind("NetworkPolicy"))
    problems = []
    for w in m.workloads():
        pod = _endpoint(w)
        for kind in ("Ingress", "Egress"):
            if not cluster.isolated(pod, kind):
                problems.append(f"{w.name}: no {kind} NetworkPolicy selects its pods")
    fail_if(problems)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_ingress_allowed_by_network_policies_is_exactly_the_data_flow(
    view: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    v = View(dataflow, rendered, VIEWS[view])
    sources = [*v.members, *v.strangers, KUBE_DNS, v.internet]
    found = v.allowed(sources, v.members, "ingress")
    _compare(found, v.expected_calls(), f"{view}: ingress")


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_egress_allowed_by_network_policies_is_exactly_the_data_flow_dns_and_external(
    view: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    v = View(dataflow, rendered, VIEWS[view])
    targets = [*v.members, *v.strangers, KUBE_DNS, v.internet]
    found = v.allowed(v.members, targets, "egress")
    _compare(found, v.expected_egress(), f"{view}: egress")


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_services_find_exactly_the_services_they_call_where_those_run(
    view: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    v = View(dataflow, rendered, VIEWS[view])
    m = v.manifests
    workloads = dataflow["workloads"]
    where = {w.name: w.namespace for w in m.workloads()}
    problems = []
    for w in m.services():
        c = container(w)
        env = m.env(w, c)
        callees = set(dataflow["calls"].get(w.name, []))
        wanted = {n for n in callees if workloads[n]["kind"] == "service"}
        configured = {
            match.group(1).lower()
            for name in env
            if (match := re.fullmatch(r"QUANTMESH_([A-Z]+)_ADDRESS", name))
        }
        if configured != wanted:
            problems.append(f"{w.name}: addresses for {sorted(configured)}, calls {sorted(wanted)}")
        for callee in sorted(wanted & configured):
            ns = where.get(callee)
            expected = f"dns:///{callee}.{ns}.svc.cluster.local:{workloads[callee]['ports'][0]}"
            actual = m.env_value(w, c, f"QUANTMESH_{callee.upper()}_ADDRESS")
            if ns is None or actual != expected or m.get("Service", callee, ns) is None:
                problems.append(f"{w.name}: {callee} at {actual}, runs at {expected}")
        collector = f"http://otel-collector.{w.namespace}.svc.cluster.local:4317"
        if m.env_value(w, c, "OTEL_EXPORTER_OTLP_ENDPOINT") != collector:
            problems.append(f"{w.name}: OTEL_EXPORTER_OTLP_ENDPOINT is not {collector}")
        if m.get("Service", "otel-collector", w.namespace) is None:
            problems.append(f"{w.name}: no otel-collector Service in {w.namespace}")
        uses_mongo = "mongodb" in callees
        mongo = env.get("QUANTMESH_MONGO_URI")
        if uses_mongo != isinstance(mongo, dict):
            problems.append(f"{w.name}: QUANTMESH_MONGO_URI from a Secret iff it calls mongodb")
        if "mlflow" in callees:
            mlflow = f"http://mlflow.{w.namespace}.svc.cluster.local:5000"
            if m.env_value(w, c, "QUANTMESH_SIGNAL_MLFLOW_URI") != mlflow:
                problems.append(f"{w.name}: QUANTMESH_SIGNAL_MLFLOW_URI is not {mlflow}")
    fail_if(problems)


def _parse_allow(value: str) -> dict[str, set[str]]:
    allow: dict[str, set[str]] = {}
    for item in value.split(","):
        team, _, services = item.partition("=")
        allow[team.strip()] = {s.strip() for s in services.split("|") if s.strip()}
    return allow


@pytest.mark.parametrize("overlay", TEAM_OVERLAYS)
def test_team_overlays_take_tokens_from_secrets_and_let_in_exactly_the_calling_teams(
    overlay: str, rendered: dict[str, Manifests], dataflow: dict[str, Any]
) -> None:
    m = rendered[overlay]
    (team,) = dataflow["overlays"][overlay]["teams"]
    workloads = dataflow["workloads"]
    expected: dict[str, set[str]] = {team: {"*"}}
    for caller, callees in dataflow["calls"].items():
        for callee in callees:
            spec = workloads[callee]
            if spec["kind"] == "service" and spec["team"] == team != workloads[caller]["team"]:
                expected.setdefault(workloads[caller]["team"], set()).add(callee)
    problems = []
    for w in m.services():
        c = container(w)
        env = m.env(w, c)
        for name in ("QUANTMESH_AUTH_TOKENS", "QUANTMESH_TOKEN"):
            ref = env.get(name)
            if not (
                isinstance(ref, dict) and ref.get("secretKeyRef", {}).get("optional") is not True
            ):
                problems.append(f"{w.name}: {name} must come from a (required) Secret key")
        allow = m.env_value(w, c, "QUANTMESH_AUTH_ALLOW")
        if allow is None:
            problems.append(f"{w.name}: no QUANTMESH_AUTH_ALLOW")
        elif _parse_allow(allow) != expected:
            problems.append(f"{w.name}: QUANTMESH_AUTH_ALLOW={allow}, data flow needs {expected}")
    fail_if(problems)


def test_the_data_flow_table_is_consistent(dataflow: dict[str, Any]) -> None:
    workloads = dataflow["workloads"]
    names = set(workloads)
    for caller, callees in dataflow["calls"].items():
        assert caller in names and set(callees) <= names, caller
    assert set(dataflow["external"]) <= names
    teams = {t for o in dataflow["overlays"].values() for t in o["teams"]}
    assert {w["team"] for w in workloads.values()} <= teams | {"every"}
    assert set(dataflow["overlays"]) == set(OVERLAYS)
