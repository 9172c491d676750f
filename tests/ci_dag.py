"""The reduced CI DAG (config/ci.yaml), run once per test session and shared by the tests that
read its results (the end-to-end check and the breakage checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config

from biggait.plan import WorkflowPlan

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASELINE = REPO / "results" / "baseline" / "demo_metrics.csv"
TOLERANCES = REPO / "results" / "baseline" / "demo_tolerances.csv"
CI_EXPERIMENTS = ("biggait_ccpg", "gaitbase_ccpg", "biggergait_ccpg")


def dag_command(results: Path, *extra: str) -> list[str]:
    return [
        str(BIN / "snakemake"),
        "table_ccpg",
        "claims",
        "--configfile",
        "config/ci.yaml",
        "--cores",
        "2",
        "--config",
        f"results={results}",
        *extra,
    ]


def run_ci_dag(results: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        dag_command(results), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500
    )


def ci_plan(results: Path) -> WorkflowPlan:
    """The CI DAG's plan (config/config.yaml updated by config/ci.yaml, as Snakemake merges them):
    what its rules pass to each job, e.g. ``ci_plan(res).train_sets("biggait_ccpg", 0)``."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "ci.yaml").read_text()))
    config["results"] = str(results)
    return WorkflowPlan(config, REPO)
