"""Fixtures of the deployment tests: the rendered overlays and the data flow they must implement.

Rendering needs `kubectl` (Debian package `kubectl`; `.ci/run` installs it). Where it is missing
the tests skip with that reason, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import unavailable
from tests.deploy.manifests import Manifests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quantmesh_k8s_validate", K8S / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


k8s = _load_validate()


@pytest.fixture(scope="session")
def rendered() -> dict[str, Manifests]:
    """Every overlay, rendered with `kubectl kustomize`."""
    if k8s.kubectl() is None:
        unavailable(
            "kubectl is not installed (Debian: apt-get install kubectl); cannot render overlays"
        )
    return {name: Manifests(k8s.render(name)) for name in OVERLAYS}


@pytest.fixture(scope="session")
def dataflow() -> dict[str, Any]:
    flow: dict[str, Any] = yaml.safe_load((K8S / "dataflow.yaml").read_text())
    return flow
