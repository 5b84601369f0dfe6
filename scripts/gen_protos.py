"""Regenerate gen/python from protos/ (one command: `python scripts/gen_protos.py`).

With `--check`, regenerate into a temporary folder and fail when it differs from the committed
gen/python, so CI catches a proto change that was not regenerated.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen" / "python"


def generate(out: Path) -> None:
    """Run protoc over every .proto file into `out` (created fresh)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def differences(a: Path, b: Path) -> list[str]:
    """Paths (relative) that differ between two trees, including files present on one side only."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + n for n in cmp.left_only + cmp.right_only + cmp.diff_files)
        found.extend(prefix + n for n in cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(a, b, ignore=["__pycache__"]), "")
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/python is stale")
    args = parser.parse_args()
    if not args.check:
        generate(GEN)
        print(f"regenerated {GEN.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "python"
        generate(fresh)
        stale = differences(fresh, GEN) if GEN.exists() else ["gen/python (missing)"]
    if stale:
        print("gen/python is stale; run `python scripts/gen_protos.py`:", *stale, sep="\n  ")
        return 1
    print("gen/python is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
