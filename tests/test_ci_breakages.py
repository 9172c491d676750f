"""The CI metric check catches a broken method and lets harmless changes pass.

Each case retrains the CI's BigGait (biggait_ccpg, seed 0) on the CI DAG's own data and
pretrained upstream with one change, evaluates it, and runs ``biggait check-metrics`` against
the committed baseline with the tolerances measured from seed noise
(results/baseline/demo_tolerances.csv), on the headline numbers (rank-1 per condition and their
mean, mask IoU). A breakage must fail the check *and* move BigGait's CCPG mean rank-1 away from the
baseline seeds' mean (the reference check-metrics compares with) by more than three seed standard
deviations of that mean (the pooled std of the tolerances file), so that it is caught by its
effect, not by a tight tolerance. A harmless change (two threads instead of one:
on CPU a different summation order, which changes a 120-step training like a new seed would) must
pass.

Breakages the demo cannot see are listed in docs/workflow.md ("Metric checks") with their
measured effects: the mask forced to all-foreground (the demo's mask does not find the walker, so
nothing is lost), the denoising map removed (-7.5 points, 2.6 std: inside the noise) and
Pad-and-Resize bypassed (no effect on CCPG, whose frames are stored pre-padded).
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
from pathlib import Path

import pytest

from biggait import paths
from biggait.cli import main
from biggait.evaluation.metrics_files import load_results
from biggait.reporting import tolerances as noise_tol
from tests.ci_dag import BASELINE, BIN, REPO, TOLERANCES, ci_plan

RANK1 = "rank1_exclude_identical_view"
CONDITIONS = ("CL", "UP", "DN", "BG")
# name -> (--set overrides, threads). What each breaks, as a user's bug would:
CASES = {
    "no_triplet": (["loss.triplet_weight=0"], 1),  # the metric-learning loss lost (measured -13.8 points)
    "upstream_not_loaded": (["model.lvm_random=true"], 1),  # the pretrained upstream silently not loaded
    "two_threads": ([], 2),  # harmless: another thread count
}
METRICS = ("rank1_exclude*", "iou")  # the headline numbers
BREAKAGES = [c for c in CASES if c != "two_threads"]


def _mean_rank1(rows, seed: int) -> float:
    vals = [r.value for r in rows if r.experiment == "biggait_ccpg" and r.seed == seed and r.protocol == "gait"
            and r.metric == RANK1 and r.condition in CONDITIONS and r.test_dataset == "ccpg"]
    assert len(vals) == len(CONDITIONS)
    return statistics.fmean(vals)


def _command(ci: Path, out: Path, sets: list[str]) -> tuple[list[str], list[str]]:
    """The CI DAG's own train and evaluate commands of biggait_ccpg seed 0 (its rules' --set values),
    with ``sets`` added and the outputs under ``out``."""
    plan = ci_plan(ci)
    run = out / "run"
    train = [str(BIN / "biggait"), "train", str(plan.experiment_file("biggait_ccpg")), "--scale", plan.scale,
             "--out", str(run), "--no-progress"]
    for s in plan.train_sets("biggait_ccpg", 0) + sets:
        train += ["--set", s]
    evaluate = [str(BIN / "biggait"), "evaluate", "--checkpoint", str(run / "model.pt"), "--dataset", "ccpg",
                "--root", plan.dataset_root("ccpg"), "--partition", plan.dataset_partition("ccpg"),
                "--out", paths.eval_dir(str(out), "biggait_ccpg", 0, "ccpg")]
    return train, evaluate


@pytest.fixture(scope="module")
def changed_runs(ci_results: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case trained and evaluated, two at a time (one per core)."""
    root = tmp_path_factory.mktemp("breakages")
    outs = {name: root / name for name in CASES}
    pending = list(CASES)
    running: list[tuple[str, subprocess.Popen]] = []

    def start(name: str) -> None:
        sets, threads = CASES[name]
        train, evaluate = _command(ci_results, outs[name], sets)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        script = " && ".join(subprocess.list2cmdline(c) for c in (train, evaluate))
        log = open(root / f"{name}.log", "w")
        running.append((name, subprocess.Popen(["bash", "-c", script], cwd=REPO, env=env, stdout=log,
                                               stderr=subprocess.STDOUT)))

    while pending or running:
        while pending and len(running) < 2:
            start(pending.pop(0))
        name, proc = running.pop(0)
        assert proc.wait(timeout=900) == 0, (root / f"{name}.log").read_text()[-3000:]
    return outs


def _check(result: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["check-metrics", str(result), "--baseline", str(BASELINE), "--tolerances", str(TOLERANCES),
               "--experiments", "biggait_ccpg", "--seeds", "0", "--subset", "--metrics", *METRICS])
    return rc, capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", BREAKAGES)
def test_breakage_is_caught(changed_runs: dict[str, Path], name: str, capsys: pytest.CaptureFixture) -> None:
    rc, out = _check(changed_runs[name], capsys)
    assert rc == 1, f"check-metrics passed a broken method ({name}):\n{out}"
    seeds_mean, noise = _noise_of_mean()
    effect = _mean_rank1(load_results(changed_runs[name]), 0) - seeds_mean
    assert abs(effect) > 3 * noise, (f"{name}: CCPG mean rank-1 moved {effect:+.1f} points from the baseline seeds' "
                                     f"mean {seeds_mean:.1f}, not clearly more than the seed noise (pooled std "
                                     f"{noise:.1f})")


def _noise_of_mean() -> tuple[float, float]:
    """biggait_ccpg's CCPG mean rank-1 over the baseline's seeds (what check-metrics compares with) and its
    seed std, pooled over the demo's 3-seed experiments."""
    with TOLERANCES.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if (row["experiment"], row["test_dataset"], row["protocol"], row["condition"], row["metric"]) == (
                    "biggait_ccpg", "ccpg", "gait", noise_tol.MEAN_CONDITION, RANK1):
                return float(row["mean"]), float(row["pooled_std"])
    raise AssertionError(f"{TOLERANCES}: no noise measured for biggait_ccpg's CCPG mean rank-1")


@pytest.mark.slow
def test_harmless_change_passes(changed_runs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    rc, out = _check(changed_runs["two_threads"], capsys)
    assert rc == 0, out
