"""A small model of Kubernetes NetworkPolicy semantics, to check rendered policies offline.

It follows the API's documented rules (networking.k8s.io/v1):
- a pod is isolated for ingress (egress) when some policy of its namespace with that policy type
  selects it; an isolated pod accepts (sends) only what some rule of those policies allows, a
  pod that is not isolated accepts (sends) everything;
- a connection needs both: the source's egress and the destination's ingress allow it;
- a peer with only `podSelector` means pods of the policy's own namespace; only
  `namespaceSelector`, every pod of the matching namespaces; both in one peer, pods matching both;
  `ipBlock`, addresses outside the cluster (what the API documents it for: whether a CNI also
  applies it to pod IPs is implementation-defined, so this model never does);
- an empty or absent `from`/`to` allows every peer, an empty or absent `ports` every port; a
  named port resolves against the destination pod's container ports;
- `policyTypes` defaults to Ingress, plus Egress when the policy has egress rules.
Traffic from the node (kubelet probes) is outside the model, as it is outside the policies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True, eq=False)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None, ip set)."""

    name: str
    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    ip: str | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.namespace)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector; {} matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op!r}")
    return True


def policy_types(policy: Mapping[str, Any]) -> set[str]:
    spec = policy["spec"]
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


class Cluster:
    """Namespaces (name -> labels) and the NetworkPolicies that apply to them."""

    def __init__(
        self, namespaces: Mapping[str, Mapping[str, str]], policies: Iterable[Mapping[str, Any]]
    ) -> None:
        self.namespaces = {
            name: {**labels, "kubernetes.io/metadata.name": name}
            for name, labels in namespaces.items()
        }
        self.policies = list(policies)

    def _policies(self, pod: Endpoint, kind: str) -> list[Mapping[str, Any]]:
        if pod.namespace is None:
            return []
        return [
            p
            for p in self.policies
            if p["metadata"].get("namespace") == pod.namespace
            and kind in policy_types(p)
            and selector_matches(p["spec"].get("podSelector"), pod.labels)
        ]

    def isolated(self, pod: Endpoint, kind: str) -> bool:
        return bool(self._policies(pod, kind))

    def _peer_matches(self, peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            if other.ip is None:
                return False
            address = ipaddress.ip_address(other.ip)
            block = peer["ipBlock"]
            if address not in ipaddress.ip_network(block["cidr"]):
                return False
            return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            ns_labels = self.namespaces.get(other.namespace, {})
            if not selector_matches(peer["namespaceSelector"], ns_labels):
                return False
        elif other.namespace != policy_ns:
            return False
        return "podSelector" not in peer or selector_matches(peer["podSelector"], other.labels)

    @staticmethod
    def _port_matches(rule_ports: list[Mapping[str, Any]] | None, port: Port) -> bool:
        """A named port resolves against the destination's container ports (`port.name`)."""
        if not rule_ports:
            return True
        for entry in rule_ports:
            if entry.get("protocol", "TCP") != port.protocol:
                continue
            wanted = entry.get("port")
            if wanted is None:
                return True
            if isinstance(wanted, str):
                if port.name == wanted:
                    return True
                continue
            if wanted <= port.number <= entry.get("endPort", wanted):
                return True
        return False

    def allows_ingress(self, src: Endpoint, dst: Endpoint, port: Port) -> bool:
        policies = self._policies(dst, "Ingress")
        if not policies:
            return True
        for policy in policies:
            ns = policy["metadata"]["namespace"]
            for rule in policy["spec"].get("ingress") or []:
                peers = rule.get("from") or []
                if (not peers or any(self._peer_matches(p, ns, src) for p in peers)) and (
                    self._port_matches(rule.get("ports"), port)
                ):
                    return True
        return False

    def allows_egress(self, src: Endpoint, dst: Endpoint, port: Port) -> bool:
        policies = self._policies(src, "Egress")
        if not policies:
            return True
        for policy in policies:
            ns = policy["metadata"]["namespace"]
            for rule in policy["spec"].get("egress") or []:
                peers = rule.get("to") or []
                if (not peers or any(self._peer_matches(p, ns, dst) for p in peers)) and (
                    self._port_matches(rule.get("ports"), port)
                ):
                    return True
        return False

    def allows(self, src: Endpoint, dst: Endpoint, port: Port) -> bool:
        """A connection from src to dst:port: src's egress and (for a pod) dst's ingress."""
        ingress = dst.namespace is None or self.allows_ingress(src, dst, port)
        egress = src.namespace is None or self.allows_egress(src, dst, port)
        return ingress and egress


Edge = tuple[tuple[str, str | None], tuple[str, str | None]]


def ingress_edges(
    cluster: Cluster, sources: Iterable[Endpoint], targets: Iterable[Endpoint]
) -> set[Edge]:
    """(source, target) pairs whose ingress side lets some port of the target in."""
    sources, targets = list(sources), list(targets)
    return {
        (src.key, dst.key)
        for dst in targets
        for src in sources
        if any(cluster.allows_ingress(src, dst, port) for port in dst.ports)
    }


def egress_edges(
    cluster: Cluster, sources: Iterable[Endpoint], targets: Iterable[Endpoint]
) -> set[Edge]:
    """(source, target) pairs whose egress side lets the source reach some port of the target."""
    sources, targets = list(sources), list(targets)
    return {
        (src.key, dst.key)
        for src in sources
        for dst in targets
        if any(cluster.allows_egress(src, dst, port) for port in dst.ports)
    }
