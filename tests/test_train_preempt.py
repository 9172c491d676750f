"""Preemption: a real SIGTERM / SIGUSR1 to a running ``biggait train`` makes it checkpoint at the next
step boundary and exit 75; the same command then resumes to the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import assert_same_state, state_of, tiny_overrides, write_tiny_tree

from biggait.train.preempt import PREEMPTED_EXIT
from biggait.train.state import list_checkpoints

TOTAL = 30


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path]:
    return write_tiny_tree(tmp_path_factory.mktemp("tree"))


def _command(tree, tmp_path: Path, out: Path) -> list[str]:
    exp = tmp_path / "tiny.yaml"
    exp.write_text("name: tiny_preempt\n")
    sets = tiny_overrides(*tree, **{"train.total_iters": TOTAL, "train.save_every": 10, "train.milestones": "[20]"})
    return [
        sys.executable,
        "-m",
        "biggait.cli",
        "train",
        str(exp),
        "--scale",
        "demo",
        "--out",
        str(out),
        "--no-progress",
        *[x for s in sets for x in ("--set", s)],
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_signal_checkpoints_exits_75_and_resumes_exactly(tree, tmp_path, sig):
    full = tmp_path / "full"
    subprocess.run(_command(tree, tmp_path, full), env=_env(), check=True, capture_output=True)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _command(tree, tmp_path, out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    log = out / "train_log.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 2):  # two steps done: mid-run
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == PREEMPTED_EXIT, err
    assert f"{sig.name} received" in err and "run the same command again to resume" in err
    stopped_at = list_checkpoints(out)[-1][0]
    assert 2 <= stopped_at < TOTAL and not (out / "model.pt").exists()
    assert log.read_text().count("\n") == stopped_at  # the log ends at the checkpoint's step
    resumed = subprocess.run(_command(tree, tmp_path, out), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_state(state_of(out / "model.pt"), state_of(full / "model.pt"))
