"""The NetworkPolicy model the policy tests rely on follows the Kubernetes semantics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.netpol import Cluster, Endpoint, Port, egress_edges, ingress_edges

GRPC = Port(50051, "TCP", "grpc")


def pod(name: str, namespace: str, **labels: str) -> Endpoint:
    return Endpoint(name, namespace, {"app": name, **labels}, (GRPC,))


def policy(namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def only(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def ns(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


A, B = pod("a", "one"), pod("b", "one")
C = pod("c", "two")


def cluster(*policies: dict[str, Any]) -> Cluster:
    return Cluster({"one": {}, "two": {"team": "x"}}, policies)


def test_without_policies_everything_is_allowed() -> None:
    assert cluster().allows(A, B, GRPC)
    assert cluster().allows(C, A, GRPC)


def test_a_policy_selecting_a_pod_isolates_it_and_allows_only_its_rules() -> None:
    deny = policy("one", {"podSelector": {}, "policyTypes": ["Ingress"]})
    c = cluster(deny)
    assert c.isolated(B, "Ingress") and not c.isolated(B, "Egress")
    assert not c.allows(A, B, GRPC)
    assert c.allows(B, C, GRPC)  # egress is not isolated, and "two" has no policies


def test_policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() -> None:
    c = cluster(policy("one", {"podSelector": only(app="a"), "egress": [{"to": []}]}))
    assert c.isolated(A, "Ingress") and c.isolated(A, "Egress")


def test_a_pod_selector_alone_means_the_policys_own_namespace() -> None:
    rule = {"from": [{"podSelector": only(app="a")}]}
    c = cluster(policy("one", {"podSelector": only(app="b"), "ingress": [rule]}))
    twin = pod("a", "two")  # same labels, other namespace
    assert c.allows_ingress(A, B, GRPC)
    assert not c.allows_ingress(twin, B, GRPC)


def test_namespace_and_pod_selector_in_one_peer_must_both_match() -> None:
    peer = {"namespaceSelector": ns("two"), "podSelector": only(app="c")}
    c = cluster(policy("one", {"podSelector": only(app="b"), "ingress": [{"from": [peer]}]}))
    assert c.allows_ingress(C, B, GRPC)
    assert not c.allows_ingress(pod("d", "two"), B, GRPC)
    assert not c.allows_ingress(pod("c", "one"), B, GRPC)


def test_namespace_and_pod_selector_as_two_peers_allow_either() -> None:
    peers = [{"namespaceSelector": ns("two")}, {"podSelector": only(app="c")}]
    c = cluster(policy("one", {"podSelector": only(app="b"), "ingress": [{"from": peers}]}))
    assert c.allows_ingress(pod("d", "two"), B, GRPC)  # any pod of namespace two
    assert c.allows_ingress(pod("c", "one"), B, GRPC)  # c of the own namespace


def test_namespace_selectors_match_namespace_labels() -> None:
    peer = {"namespaceSelector": only(team="x")}
    c = cluster(policy("one", {"podSelector": {}, "ingress": [{"from": [peer]}]}))
    assert c.allows_ingress(C, A, GRPC)
    assert not c.allows_ingress(B, A, GRPC)


def test_ports_numbered_named_and_ranges() -> None:
    def allowed(ports: list[dict[str, Any]], port: Port) -> bool:
        spec = {"podSelector": {}, "ingress": [{"from": [], "ports": ports}]}
        dst = Endpoint("b", "one", {"app": "b"}, (port,))
        return cluster(policy("one", spec)).allows_ingress(A, dst, port)

    assert allowed([{"port": 50051}], GRPC)
    assert not allowed([{"port": 50052}], GRPC)
    assert allowed([{"port": "grpc"}], GRPC)
    assert not allowed([{"port": "http"}], GRPC)
    assert not allowed([{"port": 50051, "protocol": "UDP"}], GRPC)
    assert allowed([{"port": 50000, "endPort": 60000}], GRPC)
    assert allowed([{"protocol": "TCP"}], GRPC)
    assert allowed([], GRPC)


def test_ip_blocks_match_addresses_outside_the_cluster_with_their_exceptions() -> None:
    block = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}
    c = cluster(policy("one", {"podSelector": only(app="a"), "egress": [{"to": [block]}]}))
    outside = Endpoint("internet", None, ip="203.0.113.7", ports=(Port(443),))
    private = Endpoint("internal", None, ip="10.1.2.3", ports=(Port(443),))
    assert c.allows(A, outside, Port(443))
    assert not c.allows(A, private, Port(443))
    assert not c.allows(A, B, GRPC)  # pods are not matched by ipBlock in this model


def test_a_connection_needs_both_egress_of_the_source_and_ingress_of_the_destination() -> None:
    to_b = policy(
        "one", {"podSelector": only(app="a"), "egress": [{"to": [{"podSelector": only(app="b")}]}]}
    )
    deny_b = policy("one", {"podSelector": only(app="b"), "policyTypes": ["Ingress"]})
    assert cluster(to_b).allows(A, B, GRPC)
    assert not cluster(to_b, deny_b).allows(A, B, GRPC)
    assert not cluster(to_b).allows(A, C, GRPC)


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["a", "b"], {"app": "a"}, True),
        ("In", ["b"], {"app": "a"}, False),
        ("NotIn", ["b"], {"app": "a"}, True),
        ("NotIn", ["a"], {"app": "a"}, False),
        ("Exists", [], {"app": "a"}, True),
        ("DoesNotExist", [], {"app": "a"}, False),
    ],
)
def test_match_expressions(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    from tests.deploy.netpol import selector_matches

    selector = {"matchExpressions": [{"key": "app", "operator": operator, "values": values}]}
    assert selector_matches(selector, labels) is expected


def test_edges_list_who_reaches_whom() -> None:
    deny = policy("one", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    a_to_b = policy(
        "one",
        {
            "podSelector": only(app="a"),
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": only(app="b")}]}],
        },
    )
    b_from_a = policy(
        "one",
        {"podSelector": only(app="b"), "ingress": [{"from": [{"podSelector": only(app="a")}]}]},
    )
    c = cluster(deny, a_to_b, b_from_a)
    assert ingress_edges(c, [A, B, C], [A, B]) == {(A.key, B.key)}
    assert egress_edges(c, [A, B], [A, B, C]) == {(A.key, B.key)}
