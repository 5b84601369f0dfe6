"""Render every kustomize overlay and validate each object against the Kubernetes JSON schemas.

Offline: `kubectl kustomize` reads only this tree (no remote bases), and the schemas come bundled
in the `kubernetes-validate` package (one set per Kubernetes minor version, strict mode: unknown
fields are errors). Nothing is fetched.

    python deploy/k8s/validate.py                 # render and validate every overlay
    python deploy/k8s/validate.py --out build/k8s # also write <overlay>.yaml there

`make k8s` runs this, then the policy tests in tests/deploy/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parent
OVERLAYS = K8S / "overlays"
#: The oldest Kubernetes the manifests support (native gRPC probes are GA from 1.27, and
#: kubernetes.io/metadata.name namespace labels from 1.22) and the newest the bundled schemas know.
MIN_KUBERNETES = "1.30.0"


class RenderError(RuntimeError):
    """kubectl is missing or `kubectl kustomize` failed."""


def overlay_names() -> list[str]:
    return sorted(p.parent.name for p in OVERLAYS.glob("*/kustomization.yaml"))


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(overlay: str | Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` builds from an overlay (a name under overlays/ or a path)."""
    path = overlay if isinstance(overlay, Path) else OVERLAYS / overlay
    binary = kubectl()
    if binary is None:
        raise RenderError("kubectl not found on PATH (Debian: apt-get install kubectl)")
    done = subprocess.run(
        [binary, "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RenderError(f"kubectl kustomize {path} failed:\n{done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def kubernetes_versions() -> list[str]:
    """The versions every object is validated against: the oldest supported and the newest known."""
    from kubernetes_validate import utils

    if MIN_KUBERNETES not in utils.all_versions():
        raise RuntimeError(f"kubernetes-validate has no schemas for Kubernetes {MIN_KUBERNETES}")
    newest = utils.latest_version()
    return [MIN_KUBERNETES] if newest == MIN_KUBERNETES else [MIN_KUBERNETES, newest]


def schema_errors(objects: Iterable[dict[str, Any]], version: str) -> list[str]:
    """One line per object that does not validate (strictly) against Kubernetes `version`."""
    from kubernetes_validate import utils

    errors = []
    for obj in objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            utils.validate(obj, version, strict=True)
        except utils.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{name}: {path}: {exc.message}")
        except utils.SchemaNotFoundError as exc:
            errors.append(f"{name}: {exc.message}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write each rendered overlay to OUT/<name>.yaml")
    args = parser.parse_args(argv)
    try:
        versions = kubernetes_versions()
    except ImportError:
        print("kubernetes-validate is missing: pip install kubernetes-validate", file=sys.stderr)
        return 2
    failed = False
    for name in overlay_names():
        try:
            objects = render(name)
        except RenderError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 2
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        errors = [f"{v}: {e}" for v in versions for e in schema_errors(objects, v)]
        for error in errors:
            print(f"{name}: {error}", file=sys.stderr)
        failed |= bool(errors)
        status = "INVALID" if errors else "valid"
        print(f"{name}: {len(objects)} objects {status} (Kubernetes {', '.join(versions)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
