"""Every object of every overlay validates against the Kubernetes JSON schemas, offline.

The schemas ship inside the `kubernetes-validate` package (strict: unknown fields are errors), for
the oldest Kubernetes the manifests support and the newest the package knows.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import unavailable
from tests.deploy.conftest import OVERLAYS, k8s
from tests.deploy.manifests import Manifests


@pytest.fixture(scope="module")
def versions() -> list[str]:
    if importlib.util.find_spec("kubernetes_validate") is None:
        unavailable("kubernetes-validate is not installed (a dev dependency); cannot check schemas")
    return list(k8s.kubernetes_versions())


def test_there_is_an_overlay_per_team_and_one_for_dev() -> None:
    assert set(OVERLAYS) == {"dev", "team-signals", "team-risk", "team-research"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_the_kubernetes_schema(
    overlay: str, rendered: dict[str, Manifests], versions: list[str]
) -> None:
    objects = list(rendered[overlay])
    assert objects, f"{overlay} renders nothing"
    errors = [f"{v}: {e}" for v in versions for e in k8s.schema_errors(objects, v)]
    assert not errors, f"{overlay}:\n" + "\n".join(errors)


def test_the_validator_rejects_what_the_api_server_would() -> None:
    """The schemas are really applied: wrong types, unknown fields and unknown kinds fail."""
    if importlib.util.find_spec("kubernetes_validate") is None:
        unavailable("kubernetes-validate is not installed (a dev dependency); cannot check schemas")
    bad = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "typo"},
            "spec": {
                "selector": {},
                "template": {"spec": {"containers": [{"name": "a", "readinesProbe": {}}]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "named-grpc-port"},
            "spec": {"containers": [{"name": "a", "livenessProbe": {"grpc": {"port": "grpc"}}}]},
        },
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "unknown"}},
    ]
    errors = k8s.schema_errors(bad, k8s.MIN_KUBERNETES)
    assert [e.split(":")[0] for e in errors] == [
        "Deployment/typo",
        "Pod/named-grpc-port",
        "Widget/unknown",
    ]
