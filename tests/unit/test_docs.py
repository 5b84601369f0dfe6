"""The documentation that must not drift from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_setting_as_the_code_declares_it() -> None:
    table = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert table in (ROOT / "README.md").read_text(), (
        "README 'Settings' is stale: paste the output of `python scripts/settings_table.py`"
    )


def test_architecture_names_every_service_package() -> None:
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    packages = [p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()]
    missing = [p for p in packages if not re.search(rf"(^|\s){p}/(\s|$)", architecture, re.M)]
    assert not missing, f"ARCHITECTURE.md does not describe: {missing}"
