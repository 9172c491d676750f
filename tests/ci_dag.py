"""The reduced CI DAG (config/ci.yaml), run once per test session and shared by the tests that
read its results (the end-to-end check and the breakage checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASELINE = REPO / "results" / "baseline" / "demo_metrics.csv"
TOLERANCES = REPO / "results" / "baseline" / "demo_tolerances.csv"
CI_EXPERIMENTS = ("biggait_ccpg", "gaitbase_ccpg")


def dag_command(results: Path, *extra: str) -> list[str]:
    return [str(BIN / "snakemake"), "table_ccpg", "claims", "--configfile", "config/ci.yaml", "--cores", "2",
            "--config", f"results={results}", *extra]


def run_ci_dag(results: Path) -> subprocess.CompletedProcess:
    return subprocess.run(dag_command(results), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=1500)
