"""The container image definition (Dockerfile, .dockerignore), read statically: no image is built.

Also checks it agrees with the Kubernetes manifests (UID, data folder, port), and that the build
context admits every file the project is built from and nothing local.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tomllib

from tests.conftest import unavailable
from tests.deploy.conftest import ROOT
from tests.deploy.manifests import Manifests

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    result = []
    for line in lines:
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, args in instructions():
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, args))
    return found


def arg_default(name: str) -> str:
    for word, args in instructions():
        if word == "ARG" and args.startswith(f"{name}="):
            return args.partition("=")[2].strip('"')
    raise AssertionError(f"no ARG {name}")


def final(word: str) -> list[str]:
    return [args for w, args in stages()[-1] if w == word]


def uid() -> int:
    (user,) = final("USER")
    return int(user.split(":")[0])


def data_dir() -> str:
    (volume,) = final("VOLUME")
    (path,) = json.loads(volume)
    return str(path)


def test_the_image_is_multi_stage_on_python_311_slim() -> None:
    assert arg_default("PYTHON_IMAGE") == "python:3.11-slim"
    built = stages()
    assert len(built) >= 2
    assert all(s[0][1].split()[0] == "${PYTHON_IMAGE}" for s in built)
    copies = [args for w, args in built[-1] if w == "COPY"]
    assert any(a.startswith("--from=builder /opt/venv") for a in copies), "runtime takes the venv"
    runs = " ".join(args for w, args in built[-1] if w == "RUN")
    assert "build-essential" not in runs, "compilers stay in the builder"


def test_torch_is_pinned_and_installed_before_the_project() -> None:
    runs = [args for w, args in stages()[0] if w == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==" in r)
    project = next(i for i, r in enumerate(runs) if "pip install ." in r)
    assert "pip install" in runs[torch] and "torch==2.13.0" in runs[torch]
    assert torch < project


def test_the_image_runs_quantmesh_up_as_a_numeric_non_root_user() -> None:
    assert uid() > 0
    (entrypoint,) = final("ENTRYPOINT")
    assert json.loads(entrypoint) == ["quantmesh", "up"]
    assert final("EXPOSE") == ["50051"]
    env = " ".join(final("ENV"))
    assert f"QUANTMESH_DATA_DIR={data_dir()}" in env
    assert "QUANTMESH_HOST=0.0.0.0" in env


def test_the_manifests_run_the_images_user_and_mount_its_data_folder(
    rendered: dict[str, Manifests],
) -> None:
    problems = []
    for overlay, m in rendered.items():
        for w in m.services():
            (c,) = [c for c in w.pod_spec["containers"] if c["name"] == "quantmesh"]
            user = {**w.pod_spec.get("securityContext", {}), **c.get("securityContext", {})}
            if user.get("runAsUser") != uid():
                problems.append(f"{overlay}/{w.name}: runAsUser is not the image's {uid()}")
            if w.pod_spec.get("securityContext", {}).get("fsGroup") != uid():
                problems.append(f"{overlay}/{w.name}: fsGroup is not {uid()} (volume ownership)")
            if m.env_value(w, c, "QUANTMESH_DATA_DIR") != data_dir():
                problems.append(f"{overlay}/{w.name}: QUANTMESH_DATA_DIR is not {data_dir()}")
            if c["image"].split(":")[0] != "quantmesh":
                problems.append(f"{overlay}/{w.name}: image {c['image']} is not quantmesh")
    assert not problems, "\n".join(problems)


def _admitted(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore lets a path into the build context (last matching pattern wins)."""
    admitted = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        candidates = [pattern, pattern.removeprefix("**/")]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates) or (
            pattern.startswith("**/") and any(fnmatch.fnmatchcase(x, candidates[1]) for x in parts)
        ):
            admitted = negate
    return admitted


def _context_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_local() -> None:
    patterns = _context_patterns()
    copied = [
        src
        for word, args in instructions()
        if word == "COPY" and not args.startswith("--from")
        for src in args.split()[:-1]
    ]
    for src in copied:
        assert _admitted(src, patterns), f"{src} is copied but .dockerignore leaves it out"
    for local in (
        ".venv/bin/python",
        "node_modules/x",
        ".git/HEAD",
        "var/marketdata.duckdb",
        "tests/conftest.py",
        "quantmesh-report/summary.json",
        "services/__pycache__/registry.cpython-311.pyc",
    ):
        assert not _admitted(local, patterns), f"{local} would be sent to the image build"


def test_the_build_context_holds_every_file_the_package_is_built_from() -> None:
    """`pip install .` in the builder needs pyproject.toml, its readme and every module of the
    packages it finds (pyproject: services*, backtest* and quantmesh* under gen/python)."""
    if shutil.which("git") is None:
        unavailable("git is not installed; cannot list the project's files")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = ["pyproject.toml", pyproject["project"]["readme"]]
    roots = ("services/", "backtest/", "gen/python/quantmesh/")
    needed += [f for f in listed if f.startswith(roots) and f.endswith((".py", ".pyi"))]
    assert any(f.startswith("services/cli/") for f in needed)
    patterns = _context_patterns()
    left_out = [f for f in needed if (ROOT / f).exists() and not _admitted(f, patterns)]
    assert not left_out, f".dockerignore leaves out files the build needs: {left_out}"
