"""The Python sources are ruff-formatted and ruff-clean (the rule set of pyproject.toml ``[tool.ruff]``).

Fix a failure with ``.venv/bin/ruff format . && .venv/bin/ruff check --fix .`` from the repository root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _ruff() -> str:
    ruff = BIN / "ruff" if (BIN / "ruff").exists() else shutil.which("ruff")
    assert ruff, "ruff is not installed (a dev dependency: pip install -c requirements/constraints.txt -e '.[dev]')"
    return str(ruff)


def test_ruff_format_check() -> None:
    out = subprocess.run([_ruff(), "format", "--check", "--diff", "."], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, f"not ruff-formatted (run `ruff format .`):\n{out.stdout[-4000:]}{out.stderr[-2000:]}"


def test_ruff_lint() -> None:
    out = subprocess.run(
        [_ruff(), "check", "--output-format", "concise", "."], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, f"ruff finds problems (run `ruff check --fix .`):\n{out.stdout[-4000:]}"


def test_the_lint_catches_an_unused_import(tmp_path: Path) -> None:
    """The configured rule set is live: a file with an unused import and bad formatting is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=1\n")
    cfg = ["--config", str(REPO / "pyproject.toml")]
    lint = subprocess.run([_ruff(), "check", *cfg, str(bad)], capture_output=True, text=True)
    fmt = subprocess.run([_ruff(), "format", "--check", *cfg, str(bad)], capture_output=True, text=True)
    assert lint.returncode == 1 and "F401" in lint.stdout
    assert fmt.returncode == 1
