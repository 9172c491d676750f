"""The reduced demo DAG of CI (config/ci.yaml) end to end, then the metric regression check."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from biggait.cli import main
from tests.ci_dag import BASELINE, CI_EXPERIMENTS, REPO, TOLERANCES, dag_command

pytestmark = pytest.mark.dag  # starts Snakemake (left out by make test-fast)


@pytest.mark.slow
def test_ci_dag_and_check_metrics(ci_results: Path, capsys: pytest.CaptureFixture) -> None:
    res = ci_results
    for name in ("ccpg.md", "ccpg.csv", "ccpg_wide.csv", "ccpg.tex"):
        assert (res / "tables" / name).is_file()
    assert (res / "figures" / "bars_ccpg.png").is_file()
    md = (res / "tables" / "ccpg.md").read_text()
    for method in ("BigGait", "GaitBase", "BiggerGait"):
        assert f"| {method} | ours | missing" not in md
    # The claims on the CCPG table get a verdict from the three evaluations; the others are not run.
    with (res / "claims.csv").open(newline="") as fh:
        verdicts = {r["claim"]: r for r in csv.DictReader(fh)}
    for claim in ("ccpg_cl_biggait_beats_gaitbase", "ccpg_mean_biggergait_beats_biggait"):
        cl = verdicts[claim]
        assert cl["verdict"] in ("holds", "refuted", "inconclusive") and cl["pairing"] == "paired"
        assert float(cl["ci_low"]) <= float(cl["effect"]) <= float(cl["ci_high"])
    assert verdicts["mask_branch_helps"]["verdict"] == "not run"
    assert (res / "eval" / "biggait_ccpg" / "seed0" / "ccpg" / "identity_hits.npz").is_file()
    # Nothing left to do on a second run (finished trainings are not redone).
    again = subprocess.run(
        dag_command(res, "-n"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    assert "Nothing to be done" in again.stdout
    capsys.readouterr()
    rc = main(
        [
            "check-metrics",
            str(res),
            "--baseline",
            str(BASELINE),
            "--tolerances",
            str(TOLERANCES),
            "--experiments",
            *CI_EXPERIMENTS,
            "--subset",
            "--tolerance",
            "2",
        ]
    )
    assert rc == 0, capsys.readouterr().out
