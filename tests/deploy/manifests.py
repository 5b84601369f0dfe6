"""Reading rendered Kubernetes objects: lookups, workloads, the environment a container sees."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}

_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "m": Decimal("0.001"),
}


def quantity(value: str | int | float) -> Decimal:
    """A resource.Quantity ("500m", "2", "1Gi") as a number (cores, bytes)."""
    text = str(value)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = match.groups()
    return Decimal(number) * Decimal(_SUFFIXES[suffix] if suffix else 1)


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    namespace: str
    obj: dict[str, Any]

    @property
    def pod(self) -> dict[str, Any]:
        return self.obj["spec"]["template"]

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.pod["spec"]

    @property
    def pod_labels(self) -> dict[str, str]:
        return self.pod["metadata"].get("labels", {})

    @property
    def containers(self) -> list[dict[str, Any]]:
        spec = self.pod_spec
        return list(spec.get("initContainers", [])) + list(spec["containers"])

    @property
    def is_quantmesh_service(self) -> bool:
        return self.pod_labels.get("app.kubernetes.io/component") == "grpc-service"


class Manifests:
    """The objects one overlay (or several together) renders to."""

    def __init__(self, objects: Iterable[dict[str, Any]]) -> None:
        self.objects = list(objects)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.objects)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        for obj in self.of_kind(kind):
            meta = obj["metadata"]
            if meta["name"] == name and meta.get("namespace") == namespace:
                return obj
        return None

    def workloads(self) -> list[Workload]:
        return [
            Workload(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""), o)
            for o in self.objects
            if o["kind"] in WORKLOAD_KINDS
        ]

    def services(self) -> list[Workload]:
        """The quantmesh gRPC services (Deployments labelled component=grpc-service)."""
        return [w for w in self.workloads() if w.kind == "Deployment" and w.is_quantmesh_service]

    def namespaces(self) -> dict[str, dict[str, str]]:
        return {
            o["metadata"]["name"]: o["metadata"].get("labels", {})
            for o in self.of_kind("Namespace")
        }

    def env(self, workload: Workload, container: dict[str, Any]) -> dict[str, Any]:
        """Variable -> value (a str) or the valueFrom source (a dict), as the container sees them:
        envFrom ConfigMaps first, `env` entries over them. Missing ConfigMaps raise KeyError."""
        result: dict[str, Any] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                ref = source["configMapRef"]
                cm = self.get("ConfigMap", ref["name"], workload.namespace)
                if cm is None:
                    raise KeyError(f"{workload.name}: ConfigMap {ref['name']} is not rendered")
                prefix = source.get("prefix", "")
                result.update({prefix + k: v for k, v in cm.get("data", {}).items()})
            else:
                result.update({f"<{k}>": v for k, v in source.items()})
        for entry in container.get("env", []):
            result[entry["name"]] = entry.get("value", entry.get("valueFrom", ""))
        return result

    def env_value(self, workload: Workload, container: dict[str, Any], name: str) -> str | None:
        """The literal value of a variable, resolving configMapKeyRef; None when unset or secret."""
        value = self.env(workload, container).get(name)
        if isinstance(value, dict) and "configMapKeyRef" in value:
            ref = value["configMapKeyRef"]
            cm = self.get("ConfigMap", ref["name"], workload.namespace)
            return None if cm is None else cm.get("data", {}).get(ref["key"])
        return value if isinstance(value, str) else None
